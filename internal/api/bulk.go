package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
)

// bulkCreatedJSON answers POST /v1/bulk, as Reacher does.
type bulkCreatedJSON struct {
	JobID jobID `json:"job_id"`
}

// bulkCreateV0 serves POST /v0/bulk, Reacher's older bulk route: the same
// job, with per-job check options (proxy, hello_name, from_email,
// smtp_ports) and no webhook in Reacher.
func (s *server) bulkCreateV0(w http.ResponseWriter, r *http.Request) { s.createBulk(w, r, true) }

// bulkCreate serves POST /v1/bulk.
func (s *server) bulkCreate(w http.ResponseWriter, r *http.Request) { s.createBulk(w, r, false) }

// createBulk validates, builds and encodes every queue message, creates
// the job, then queues the messages (domains kept together, small ones
// packed, so that the worker reuses SMTP sessions).
//
// Everything that can be refused is refused before the job exists, so a
// client error never leaves a job behind. What can still fail is the queue
// itself: then the job exists but some addresses will never be verified.
// The client gets a 500 with the request id and must submit again, and the
// failure is logged as "bulk job not fully queued" with the job id and what
// was not queued, for an operator to act on (see README.md).
func (s *server) createBulk(w http.ResponseWriter, r *http.Request, v0 bool) {
	if !s.requireJobs(w) {
		return
	}
	in, err := decodeBulk(w, r, s.cfg.MaxBulkBytes, s.cfg.MaxBulkAddresses, v0)
	if err != nil {
		s.writeRequestError(w, err)
		return
	}
	var req json.RawMessage
	if v0 {
		if req, err = s.v0Request(in.v0); err != nil {
			s.writeRequestError(w, err)
			return
		}
	}
	ctx := r.Context()
	var batch bulkBatch
	job := store.Job{Total: len(in.emails), Webhook: in.webhook}
	id, err := s.createJob(ctx, job, func(id string) (err error) {
		batch, err = s.bulkMessages(id, in, req)
		return err
	})
	if err != nil {
		s.internalError(w, err)
		return
	}
	// Once the job exists, queueing finishes even if the client goes away:
	// a half-queued job is worse than an unread job id.
	if err := s.deps.Queue.SendRaw(context.WithoutCancel(ctx), 0, batch.bodies...); err != nil {
		s.logUnqueued(ctx, w, id, batch.msgs, err)
		s.internalError(w, fmt.Errorf("enqueue bulk job %s: %w", id, err))
		return
	}
	s.writeJSON(w, http.StatusOK, bulkCreatedJSON{JobID: jobID(id)})
}

// bulkBatch is a bulk job's queue messages and their encoded bodies, index
// for index: the bodies are sent, the messages tell what a failed send left
// out.
type bulkBatch struct {
	msgs   []queue.Message
	bodies [][]byte
}

// v0Request checks the check options of a /v0/bulk body, by the rules of
// a check_email request, and returns them encoded for the queue messages
// (nil when there are none).
func (s *server) v0Request(o v0Options) (json.RawMessage, error) {
	for i, p := range o.SMTPPorts {
		if p < 1 || p > 65535 {
			return nil, badRequest("smtp_ports[%d] must be between 1 and 65535.", i)
		}
	}
	req := o.request()
	if req == (engine.Request{}) {
		return nil, nil
	}
	probe := req
	probe.ToEmail = "-" // the items bring their own
	if err := s.validateCheck(probe); err != nil {
		return nil, err
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode bulk options: %w", err)
	}
	return b, nil
}

// bulkMessages builds the job's messages and encodes each, once: a message
// the queue would refuse is found before the job is created, and the bodies
// are what is queued. req holds the check options every item shares.
func (s *server) bulkMessages(id string, in bulkInput, req json.RawMessage) (bulkBatch, error) {
	// The webhook rides in every message, outside Batch's size budget.
	budget := s.cfg.BatchBytes - len(`,"webhook":`) - len(in.webhook)
	msgs := queue.Batch(id, in.emails, req, s.cfg.BatchItems, budget)
	bodies := make([][]byte, len(msgs))
	for i := range msgs {
		msgs[i].Webhook = in.webhook
		b, err := queue.Encode(msgs[i])
		if err != nil {
			return bulkBatch{}, fmt.Errorf("bulk message %d of %d: %w", i, len(msgs), err)
		}
		bodies[i] = b
	}
	return bulkBatch{msgs: msgs, bodies: bodies}, nil
}

// logUnqueued reports a job left with addresses that were never queued: it
// stays Running forever unless an operator acts, so the line names the job,
// the request and how much is missing.
func (s *server) logUnqueued(ctx context.Context, w http.ResponseWriter, id string, msgs []queue.Message, err error) {
	unsent := make([]int, len(msgs)) // a plain error: nothing is known to be sent
	for i := range unsent {
		unsent[i] = i
	}
	var se *queue.SendError
	if errors.As(err, &se) {
		unsent = se.Unsent
	}
	addrs := 0
	for _, i := range unsent {
		if i >= 0 && i < len(msgs) {
			addrs += len(msgs[i].Items)
		}
	}
	s.log.LogAttrs(context.WithoutCancel(ctx), slog.LevelError, "bulk job not fully queued",
		slog.String("job_id", id),
		slog.String("request_id", idOf(w)),
		slog.Int("messages_unsent", len(unsent)),
		slog.Int("messages_total", len(msgs)),
		slog.Int("addresses_unqueued", addrs),
		slog.String("error", err.Error()))
}

// bulkStatusJSON is Reacher's job progress object, field for field, and
// mailprobe's additions (Reacher clients ignore unknown fields): how many
// addresses wait to be checked later, why, and when the next is due.
type bulkStatusJSON struct {
	JobID           jobID          `json:"job_id"`
	CreatedAt       time.Time      `json:"created_at"`
	FinishedAt      *time.Time     `json:"finished_at"`
	TotalRecords    int            `json:"total_records"`
	TotalProcessed  int            `json:"total_processed"`
	Summary         summaryJSON    `json:"summary"`
	JobStatus       string         `json:"job_status"`
	WaitingForRetry int            `json:"waiting_for_retry"`
	WaitingReasons  map[string]int `json:"waiting_reasons,omitempty"`
	NextRetryAt     *time.Time     `json:"next_retry_at"`
}

type summaryJSON struct {
	TotalSafe    int `json:"total_safe"`
	TotalRisky   int `json:"total_risky"`
	TotalInvalid int `json:"total_invalid"`
	TotalUnknown int `json:"total_unknown"`
}

// bulkStatus serves GET /v1/bulk/{job_id}.
func (s *server) bulkStatus(w http.ResponseWriter, r *http.Request) {
	if !s.requireJobs(w) {
		return
	}
	id := r.PathValue("job_id")
	job, ok := s.loadJob(w, r, id)
	if !ok {
		return
	}
	st := bulkStatusJSON{
		JobID:          jobID(job.ID),
		CreatedAt:      job.CreatedAt.UTC(),
		TotalRecords:   job.Total,
		TotalProcessed: job.Processed,
		Summary: summaryJSON{
			TotalSafe:    job.Summary.Safe,
			TotalRisky:   job.Summary.Risky,
			TotalInvalid: job.Summary.Invalid,
			TotalUnknown: job.Summary.Unknown,
		},
		JobStatus:       job.Status(),
		WaitingForRetry: job.Waiting,
		WaitingReasons:  job.WaitingReasons,
	}
	if job.NextRetryAt != nil {
		t := job.NextRetryAt.UTC()
		st.NextRetryAt = &t
	}
	if st.JobStatus == store.StatusCompleted {
		if job.FinishedAt != nil {
			t := job.FinishedAt.UTC()
			st.FinishedAt = &t
		}
	}
	s.writeJSON(w, http.StatusOK, st)
}

// queryInt parses an optional integer query parameter within [lo, hi].
func queryInt(v, name string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badRequest("%s must be an integer between %d and %d.", name, lo, hi)
	}
	return n, nil
}
