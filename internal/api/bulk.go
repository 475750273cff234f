package api

import (
	"encoding/json"
	"fmt"
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

// sendChunk is how many messages go to one Enqueuer.Send call. SQS takes
// ten per SendMessageBatch; the queue package splits further, this only
// bounds how much one failed call can leave half-sent.
const sendChunk = 50

// bulkCreate serves POST /v1/bulk: validate, create the job, then queue the
// addresses grouped by domain so that the worker reuses SMTP sessions.
//
// If queueing fails half-way the job exists but will never complete; the
// client gets a 500 and must submit again. Every address of a message is
// either sent or not, so nothing is queued twice.
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
	id, err := s.createJob(ctx, len(in.emails), in.webhook)
	if err != nil {
		s.internalError(w, err)
		return
	}
	// The webhook rides in every message, outside Batch's size budget.
	budget := s.cfg.BatchBytes - len(`,"webhook":`) - len(in.webhook)
	msgs := queue.Batch(id, in.emails, nil, s.cfg.BatchItems, budget)
	for i := range msgs {
		msgs[i].Webhook = in.webhook
	}
	for start := 0; start < len(msgs); start += sendChunk {
		end := min(start+sendChunk, len(msgs))
		if err := s.deps.Queue.Send(ctx, msgs[start:end], 0); err != nil {
			s.internalError(w, fmt.Errorf("enqueue bulk job %s (messages %d-%d of %d): %w", id, start, end, len(msgs), err))
			return
		}
	}
	s.writeJSON(w, http.StatusOK, bulkCreatedJSON{JobID: jobID(id)})
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
