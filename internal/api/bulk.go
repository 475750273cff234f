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

	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
)

// bulkCreatedJSON answers POST /v1/bulk, as Reacher does.
type bulkCreatedJSON struct {
	JobID jobID `json:"job_id"`
}

// bulkCreate serves POST /v1/bulk: validate, build and encode every queue
// message, create the job, then queue the messages (domains kept together,
// small ones packed, so that the worker reuses SMTP sessions).
//
// Everything that can be refused is refused before the job exists, so a
// client error never leaves a job behind. What can still fail is the queue
// itself: then the job exists but some addresses will never be verified.
// The client gets a 500 with the request id and must submit again, and the
// failure is logged as "bulk job not fully queued" with the job id and what
// was not queued, for an operator to act on (see README.md).
func (s *server) bulkCreate(w http.ResponseWriter, r *http.Request) {
	if !s.requireJobs(w) {
		return
	}
	in, err := decodeBulk(w, r, s.cfg.MaxBulkBytes, s.cfg.MaxBulkAddresses)
	if err != nil {
		s.writeRequestError(w, err)
		return
	}
	ctx := r.Context()
	var msgs []queue.Message
	job := store.Job{Total: len(in.emails), Webhook: in.webhook}
	id, err := s.createJob(ctx, job, func(id string) (err error) {
		msgs, err = s.bulkMessages(id, in)
		return err
	})
	if err != nil {
		s.internalError(w, err)
		return
	}
	// Once the job exists, queueing finishes even if the client goes away:
	// a half-queued job is worse than an unread job id.
	if err := s.deps.Queue.Send(context.WithoutCancel(ctx), msgs, 0); err != nil {
		s.logUnqueued(ctx, w, id, msgs, err)
		s.internalError(w, fmt.Errorf("enqueue bulk job %s: %w", id, err))
		return
	}
	s.writeJSON(w, http.StatusOK, bulkCreatedJSON{JobID: jobID(id)})
}

// bulkMessages builds the job's messages and encodes each once, so that a
// message the queue would refuse is found before the job is created.
func (s *server) bulkMessages(id string, in bulkInput) ([]queue.Message, error) {
	// The webhook rides in every message, outside Batch's size budget.
	budget := s.cfg.BatchBytes - len(`,"webhook":`) - len(in.webhook)
	msgs := queue.Batch(id, in.emails, nil, s.cfg.BatchItems, budget)
	for i := range msgs {
		msgs[i].Webhook = in.webhook
		if _, err := queue.Encode(msgs[i]); err != nil {
			return nil, fmt.Errorf("bulk message %d of %d: %w", i, len(msgs), err)
		}
	}
	return msgs, nil
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

// bulkStatusJSON is Reacher's job progress object, field for field.
type bulkStatusJSON struct {
	JobID          jobID       `json:"job_id"`
	CreatedAt      time.Time   `json:"created_at"`
	FinishedAt     *time.Time  `json:"finished_at"`
	TotalRecords   int         `json:"total_records"`
	TotalProcessed int         `json:"total_processed"`
	Summary        summaryJSON `json:"summary"`
	JobStatus      string      `json:"job_status"`
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
		JobStatus: job.Status(),
	}
	if st.JobStatus == store.StatusCompleted {
		if job.FinishedAt != nil {
			t := job.FinishedAt.UTC()
			st.FinishedAt = &t
		}
	}
	s.writeJSON(w, http.StatusOK, st)
}

// Paging of bulk results. Reacher returns 50 JSON results by default and
// the whole job as CSV; a whole 100 000-address job does not fit in a
// Lambda response (6 MB), so CSV pages too, by default at the maximum.
const (
	defaultJSONLimit = 50
	maxResultsLimit  = 1000
)

// bulkResults serves GET /v1/bulk/{job_id}/results?format=json|csv. Unlike
// Reacher, results can be read while the job runs; job_status says whether
// more will come.
func (s *server) bulkResults(w http.ResponseWriter, r *http.Request) {
	if !s.requireJobs(w) {
		return
	}
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "csv" {
		s.writeError(w, http.StatusBadRequest, "format must be json or csv.")
		return
	}
	defLimit := defaultJSONLimit
	if format == "csv" {
		defLimit = maxResultsLimit
	}
	limit, err := queryInt(q.Get("limit"), "limit", defLimit, 1, maxResultsLimit)
	if err != nil {
		s.writeRequestError(w, err)
		return
	}
	offset, err := queryInt(q.Get("offset"), "offset", 0, 0, 1<<31-1)
	if err != nil {
		s.writeRequestError(w, err)
		return
	}
	id := r.PathValue("job_id")
	job, ok := s.loadJob(w, r, id)
	if !ok {
		return
	}
	recs, err := s.deps.Jobs.ListResults(r.Context(), id, offset, limit)
	if err != nil {
		s.internalError(w, fmt.Errorf("list results of %s: %w", id, err))
		return
	}
	status := job.Status()
	setPageHeaders(w.Header(), r.URL.EscapedPath(), format, job, limit, offset+len(recs))
	if format == "csv" {
		s.writeCSV(w, id, status, recs)
		return
	}
	out := struct {
		Results   []json.RawMessage `json:"results"`
		JobStatus string            `json:"job_status"`
	}{Results: make([]json.RawMessage, len(recs)), JobStatus: status}
	for i, rec := range recs {
		out.Results[i] = rec.Result
	}
	s.writeJSON(w, http.StatusOK, out)
}

// setPageHeaders tells a client that pages (Reacher's clients expect the
// whole job in one CSV) how much there is and where the next page starts:
// X-Total-Count is the job's total_records, and Link rel="next" (RFC 8288)
// is set while stored results remain past this page. A running job may get
// more results later; X-Job-Status says so.
func setPageHeaders(h http.Header, path, format string, job store.Job, limit, next int) {
	h.Set("X-Total-Count", strconv.Itoa(job.Total))
	if next < job.Processed {
		h.Set("Link", fmt.Sprintf(`<%s?format=%s&limit=%d&offset=%d>; rel="next"`, path, format, limit, next))
	}
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
