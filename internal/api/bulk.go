package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
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
	var batch bulkBatch
	job := store.Job{Total: len(in.emails), Webhook: in.webhook}
	id, err := s.createJob(ctx, job, func(id string) (err error) {
		batch, err = s.bulkMessages(id, in)
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

// bulkMessages builds the job's messages and encodes each, once: a message
// the queue would refuse is found before the job is created, and the bodies
// are what is queued.
func (s *server) bulkMessages(id string, in bulkInput) (bulkBatch, error) {
	// The webhook rides in every message, outside Batch's size budget.
	budget := s.cfg.BatchBytes - len(`,"webhook":`) - len(in.webhook)
	msgs := queue.Batch(id, in.emails, nil, s.cfg.BatchItems, budget)
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
// mailprobe's two additions (Reacher clients ignore unknown fields): how
// many addresses wait for a delayed retry and when the next is due.
type bulkStatusJSON struct {
	JobID           jobID       `json:"job_id"`
	CreatedAt       time.Time   `json:"created_at"`
	FinishedAt      *time.Time  `json:"finished_at"`
	TotalRecords    int         `json:"total_records"`
	TotalProcessed  int         `json:"total_processed"`
	Summary         summaryJSON `json:"summary"`
	JobStatus       string      `json:"job_status"`
	WaitingForRetry int         `json:"waiting_for_retry"`
	NextRetryAt     *time.Time  `json:"next_retry_at"`
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

// Paging of bulk results. Reacher returns 50 JSON results by default and
// the whole job as CSV; a whole 100 000-address job does not fit in a
// Lambda response (6 MB), so CSV pages too, by default at the maximum.
const (
	defaultJSONLimit = 50
	maxResultsLimit  = 1000
)

// resultsQuery is the paging of a results request.
type resultsQuery struct {
	format        string // "json" or "csv"
	limit, offset int
}

// parseResultsQuery reads format, limit and offset.
func parseResultsQuery(q url.Values) (resultsQuery, error) {
	rq := resultsQuery{format: q.Get("format")}
	if rq.format == "" {
		rq.format = "json"
	}
	if rq.format != "json" && rq.format != "csv" {
		return resultsQuery{}, badRequest("format must be json or csv.")
	}
	defLimit := defaultJSONLimit
	if rq.format == "csv" {
		defLimit = maxResultsLimit
	}
	var err error
	if rq.limit, err = queryInt(q.Get("limit"), "limit", defLimit, 1, maxResultsLimit); err != nil {
		return resultsQuery{}, err
	}
	if rq.offset, err = queryInt(q.Get("offset"), "offset", 0, 0, 1<<31-1); err != nil {
		return resultsQuery{}, err
	}
	return rq, nil
}

// bulkResults serves GET /v1/bulk/{job_id}/results?format=json|csv. Unlike
// Reacher, results can be read while the job runs; job_status says whether
// more will come.
func (s *server) bulkResults(w http.ResponseWriter, r *http.Request) {
	if !s.requireJobs(w) {
		return
	}
	q, err := parseResultsQuery(r.URL.Query())
	if err != nil {
		s.writeRequestError(w, err)
		return
	}
	id := r.PathValue("job_id")
	page, err := s.readPage(r.Context(), id, q)
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(w, http.StatusNotFound, "Job not found.")
		return
	}
	if err != nil {
		s.internalError(w, err)
		return
	}
	setPageHeaders(w.Header(), r.URL.EscapedPath(), q, page)
	if q.format == "csv" {
		s.writeCSV(w, id, page.status, page.recs)
		return
	}
	out := struct {
		Results   []json.RawMessage `json:"results"`
		JobStatus string            `json:"job_status"`
	}{Results: make([]json.RawMessage, len(page.recs)), JobStatus: page.status}
	for i, rec := range page.recs {
		out.Results[i] = rec.Result
	}
	s.writeJSON(w, http.StatusOK, out)
}

// resultsPage is one page of a job's results and what the paging headers
// say about it.
type resultsPage struct {
	recs   []store.Record
	status string // job_status
	total  int    // the job's total_records; 0 when there is no job record
	more   bool   // stored results remain past this page
}

// readPage reads one page of results. An id without a job record still
// has its stored results listed (see joblessPage); the error wraps
// store.ErrNotFound only when there is neither a job nor a result.
func (s *server) readPage(ctx context.Context, id string, q resultsQuery) (resultsPage, error) {
	if !validJobID(id) {
		return resultsPage{}, store.ErrNotFound
	}
	job, err := s.deps.Jobs.GetJob(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return s.joblessPage(ctx, id, q)
	}
	if err != nil {
		return resultsPage{}, fmt.Errorf("get job %s: %w", id, err)
	}
	recs, err := s.deps.Jobs.ListResults(ctx, id, q.offset, q.limit)
	if err != nil {
		return resultsPage{}, fmt.Errorf("list results of %s: %w", id, err)
	}
	return resultsPage{recs: recs, status: job.Status(), total: job.Total, more: q.offset+len(recs) < job.Processed}, nil
}

// joblessPage lists the results stored under an id that has no job record:
// Reacher's bulk tasks (reacher-bulk-N) and other external producers write
// results without one (docs/message-schema.md). Nothing says how many
// addresses such a job has, so it is always Running and has no
// X-Total-Count; one result past the page is read to know whether a next
// page exists. An empty page is 404 only when nothing is stored at all.
func (s *server) joblessPage(ctx context.Context, id string, q resultsQuery) (resultsPage, error) {
	recs, err := s.deps.Jobs.ListResults(ctx, id, q.offset, q.limit+1)
	if err != nil {
		return resultsPage{}, fmt.Errorf("list results of %s: %w", id, err)
	}
	page := resultsPage{recs: recs, status: store.StatusRunning}
	if len(recs) > q.limit {
		page.recs, page.more = recs[:q.limit], true
	}
	if len(recs) == 0 && q.offset > 0 {
		// Past the end of the stored results, or nothing stored at all.
		recs, err = s.deps.Jobs.ListResults(ctx, id, 0, 1)
		if err != nil {
			return resultsPage{}, fmt.Errorf("list results of %s: %w", id, err)
		}
	}
	if len(recs) == 0 {
		return resultsPage{}, fmt.Errorf("job %s: %w", id, store.ErrNotFound)
	}
	return page, nil
}

// setPageHeaders tells a client that pages (Reacher's clients expect the
// whole job in one CSV) how much there is and where the next page starts:
// X-Total-Count is the job's total_records (absent without a job record),
// and Link rel="next" (RFC 8288) is set while stored results remain past
// this page. A running job may get more results later; X-Job-Status says
// so.
func setPageHeaders(h http.Header, path string, q resultsQuery, p resultsPage) {
	if p.total > 0 {
		h.Set("X-Total-Count", strconv.Itoa(p.total))
	}
	if p.more {
		h.Set("Link", fmt.Sprintf(`<%s?format=%s&limit=%d&offset=%d>; rel="next"`, path, q.format, q.limit, q.offset+len(p.recs)))
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
