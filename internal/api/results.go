package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mailprobe/mailprobe/internal/store"
)

// Paging of bulk results. As Reacher, JSON pages default to 50 results and
// a CSV request without limit gets every row: streamed by `mailprobe
// serve`, redirected to a full export where responses are buffered and
// capped (Lambda, 6 MB). An explicit limit is at most maxResultsLimit.
const (
	defaultJSONLimit = 50
	maxResultsLimit  = 1000
	// streamChunk is how many results a stream or an export reads from
	// the store at a time: its memory stays constant whatever the job's
	// size.
	streamChunk = 500
)

// resultsQuery is the paging of a results request.
type resultsQuery struct {
	format        string // "json" or "csv"
	limit, offset int    // limit 0: every row from offset on (CSV only)
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
		defLimit = 0
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

// bulkResults serves GET /v0/bulk/{job_id}/results and
// /v1/bulk/{job_id}/results?format=json|csv. Unlike Reacher, results can
// be read while the job runs; job_status (X-Job-Status for CSV) says
// whether more will come.
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
	if q.limit == 0 && (!s.cfg.BufferedResponses || s.deps.Exports != nil) {
		s.allResults(w, r, id, q)
		return
	}
	if q.limit == 0 {
		// Buffered and no export store: the largest page, and Link to
		// the next one.
		q.limit = maxResultsLimit
	}
	page, err := s.readPage(r.Context(), id, q)
	if err != nil {
		s.writeJobError(w, err)
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

// allResults answers a CSV request without limit with every row from the
// offset on: streamed, or, where responses are buffered, as a redirect
// (303 See Other, which every HTTP client follows with a GET) to a
// short-lived URL of the full export.
func (s *server) allResults(w http.ResponseWriter, r *http.Request, id string, q resultsQuery) {
	job, err := s.viewJob(r.Context(), id)
	if err != nil {
		s.writeJobError(w, err)
		return
	}
	if s.cfg.BufferedResponses {
		link, err := s.publish(r, job, q.format, q.offset)
		if err != nil {
			s.internalError(w, err)
			return
		}
		w.Header().Set("X-Job-Status", job.status)
		w.Header().Set("Location", link.URL)
		s.writeJSON(w, http.StatusSeeOther, link)
		return
	}
	s.streamResults(w, r, job, q.format, q.offset)
}

// streamResults sends the job's results from offset on, a chunk at a time,
// flushing after each. The first chunk is held back until it is complete,
// so that a failure there (the store is down, a stored result is corrupt)
// is still a 500. A failure after the first byte cannot change the status
// any more: the response is aborted, so that the client sees a broken
// transfer rather than a complete-looking, truncated file.
func (s *server) streamResults(w http.ResponseWriter, r *http.Request, job jobView, format string, offset int) {
	sw := &startWriter{w: w, start: func() {
		h := w.Header()
		h.Set("Content-Type", contentTypes[format])
		h.Set("Content-Disposition", `attachment; filename="`+exportFilename(job.id, format)+`"`)
		h.Set("X-Job-Status", job.status)
		if job.total > 0 {
			h.Set("X-Total-Count", strconv.Itoa(job.total))
		}
		w.WriteHeader(http.StatusOK)
	}}
	rc := http.NewResponseController(w)
	err := s.writeResults(r.Context(), sw, job.id, format, offset, func() {
		if sw.commit() == nil {
			_ = rc.Flush() // a writer that cannot flush still gets every byte
		}
	})
	if err == nil {
		err = sw.commit()
	}
	switch {
	case err == nil:
	case !sw.started:
		s.internalError(w, err)
	default:
		s.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError, "results stream aborted",
			slog.String("request_id", idOf(w)), slog.String("job_id", job.id), slog.String("error", err.Error()))
		panic(http.ErrAbortHandler)
	}
}

// startWriter holds what is written until commit, which sends the status
// and headers (start) and the held bytes; after that it writes through.
type startWriter struct {
	w       io.Writer
	start   func()
	buf     bytes.Buffer
	started bool
}

func (sw *startWriter) Write(b []byte) (int, error) {
	if !sw.started {
		return sw.buf.Write(b)
	}
	return sw.w.Write(b)
}

// commit starts the response, once.
func (sw *startWriter) commit() error {
	if sw.started {
		return nil
	}
	sw.started = true
	sw.start()
	_, err := sw.w.Write(sw.buf.Bytes())
	sw.buf = bytes.Buffer{}
	return err
}

// contentTypes maps a results format to its media type.
var contentTypes = map[string]string{"csv": "text/csv; charset=utf-8", "json": "application/json"}

// jobView is what the results routes need to know of a job. An id without
// a job record whose results are stored (see joblessPage) is a running
// job of unknown size: total 0, processed -1.
type jobView struct {
	id               string
	status           string
	total, processed int
}

// viewJob loads a job, or a jobless id's first result; the error wraps
// store.ErrNotFound when there is neither.
func (s *server) viewJob(ctx context.Context, id string) (jobView, error) {
	if !validJobID(id) {
		return jobView{}, store.ErrNotFound
	}
	job, err := s.deps.Jobs.GetJob(ctx, id)
	if err == nil {
		return jobView{id: id, status: job.Status(), total: job.Total, processed: job.Processed}, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return jobView{}, fmt.Errorf("get job %s: %w", id, err)
	}
	recs, err := s.deps.Jobs.ListResults(ctx, id, 0, 1)
	if err != nil {
		return jobView{}, fmt.Errorf("list results of %s: %w", id, err)
	}
	if len(recs) == 0 {
		return jobView{}, fmt.Errorf("job %s: %w", id, store.ErrNotFound)
	}
	return jobView{id: id, status: store.StatusRunning, processed: -1}, nil
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

// setPageHeaders tells a client that pages how much there is and where
// the next page starts: X-Total-Count is the job's total_records (absent
// without a job record), and Link rel="next" (RFC 8288) is set while stored
// results remain past this page. A running job may get more results
// later; X-Job-Status says so.
func setPageHeaders(h http.Header, path string, q resultsQuery, p resultsPage) {
	if p.total > 0 {
		h.Set("X-Total-Count", strconv.Itoa(p.total))
	}
	if p.more {
		h.Set("Link", fmt.Sprintf(`<%s?format=%s&limit=%d&offset=%d>; rel="next"`, path, q.format, q.limit, q.offset+len(p.recs)))
	}
}
