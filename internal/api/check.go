package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
)

// checkBody is Reacher's CheckEmailRequest plus mailprobe's skip_cache.
// Unknown fields are ignored, as Reacher does.
type checkBody struct {
	engine.Request
	SkipCache bool `json:"skip_cache,omitempty"`
}

// embeddedRequest is the name encoding/json puts before the fields of
// checkBody's embedded engine.Request in *json.UnmarshalTypeError.Field.
const embeddedRequest = "Request"

// pendingJSON answers a check that continues in the background (202).
type pendingJSON struct {
	JobID     jobID  `json:"job_id"`
	StatusURL string `json:"status_url"`
	JobStatus string `json:"job_status"`
}

// checkEmail serves POST /v0/check_email and /v1/check_email.
//
// The check runs inline within Config.InlineBudget because API Gateway
// cuts every request at 30 s. When it cannot conclude in time, or the
// server answered with a temporary failure (greylisting), the address is
// queued as a single-shot job and the answer is 202 with a status URL.
func (s *server) checkEmail(w http.ResponseWriter, r *http.Request) {
	var body checkBody
	if err := decodeBody(w, r, s.cfg.MaxBodyBytes, &body); err != nil {
		s.writeRequestError(w, err)
		return
	}
	if err := s.validateCheck(body.Request); err != nil {
		s.writeRequestError(w, err)
		return
	}
	noteEmail(w, body.ToEmail)

	c := s.cacheFor(r, body)
	if b, ok := c.lookup(r.Context()); ok {
		w.Header().Set(headerCache, "hit")
		writeRaw(w, http.StatusOK, b)
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.InlineBudget)
	start := s.deps.Now()
	res, verr := s.deps.Checker.Verify(ctx, body.Request)
	cancel()
	dur := s.deps.Now().Sub(start)

	final := verr == nil && res.Retry == nil
	if !final && s.deps.Jobs != nil && s.deps.Queue != nil {
		s.deferCheck(w, r, body.Request, res, verr)
		return
	}
	// Without a queue, a provisional result is still the best answer there
	// is: serve it, as Reacher would.
	b, err := json.Marshal(res)
	if err != nil {
		s.internalError(w, fmt.Errorf("encode result: %w", err))
		return
	}
	if final {
		if s.deps.Metrics != nil {
			s.deps.Metrics.Observe(res, dur)
		}
		c.store(r.Context(), res, b)
	}
	w.Header().Set(headerCache, c.state)
	writeRaw(w, http.StatusOK, b)
}

// validateCheck reports what is wrong with a request, in Reacher's words
// where Reacher has them.
func (s *server) validateCheck(req engine.Request) error {
	if strings.TrimSpace(req.ToEmail) == "" {
		return badRequest("to_email field is required.")
	}
	if req.Proxy != nil && !s.cfg.AllowRequestProxy {
		return badRequest("The proxy field is not accepted: this server uses its configured proxies.")
	}
	if err := req.Validate(); err != nil {
		// Validate's messages are written for API clients.
		return badRequest("%s.", err.Error())
	}
	return nil
}

// deferCheck queues a check that did not conclude inline as a single-shot
// job (Total 1, marked SingleShot so that GET /v1/check_email serves it and
// no bulk job) and answers 202 with the status URL. A greylisted address is
// delivered to the worker after the delay the server asked for.
func (s *server) deferCheck(w http.ResponseWriter, r *http.Request, req engine.Request, res engine.Result, verr error) {
	ctx := r.Context()
	if ctx.Err() != nil {
		// The caller went away: nobody will ever read a job id. 499 is
		// for the log only (nginx's "client closed request").
		s.writeError(w, 499, "Client closed the request.")
		return
	}
	reqJSON, err := json.Marshal(req)
	if err != nil {
		s.internalError(w, fmt.Errorf("encode request: %w", err))
		return
	}
	// The message is encoded for the job's id before the job is stored, as
	// for a bulk job: a message the queue would refuse leaves no job behind.
	var body []byte
	id, err := s.createJob(ctx, store.Job{Total: 1, SingleShot: true}, func(id string) (err error) {
		body, err = queue.Encode(queue.Message{
			Version: queue.Version,
			JobID:   id,
			Items:   []queue.Item{{Index: 0, Email: req.ToEmail}},
			Request: reqJSON,
		})
		return err
	})
	if err != nil {
		s.internalError(w, err)
		return
	}
	var delay time.Duration
	if verr == nil && res.Retry != nil {
		delay = queue.ClampDelay(res.Retry.After)
	}
	if err := s.deps.Queue.SendRaw(ctx, delay, body); err != nil {
		s.internalError(w, fmt.Errorf("enqueue single-shot job %s: %w", id, err))
		return
	}
	url := "/v1/check_email/" + id
	w.Header().Set("Location", url)
	s.writeJSON(w, http.StatusAccepted, pendingJSON{JobID: jobID(id), StatusURL: url, JobStatus: store.StatusRunning})
}

// checkStatus serves GET /v1/check_email/{job_id}: 202 while the queued
// check runs, then 200 with the result, exactly as POST would have.
func (s *server) checkStatus(w http.ResponseWriter, r *http.Request) {
	if !s.requireJobs(w) {
		return
	}
	id := r.PathValue("job_id")
	job, ok := s.loadJob(w, r, id)
	if !ok {
		return
	}
	if !job.SingleShot {
		// A bulk job, even of one address: its results live under /v1/bulk.
		s.writeError(w, http.StatusNotFound, "Job not found.")
		return
	}
	url := "/v1/check_email/" + id
	if job.Processed >= job.Total {
		recs, err := s.deps.Jobs.ListResults(r.Context(), id, 0, 1)
		if err != nil {
			s.internalError(w, fmt.Errorf("list results of %s: %w", id, err))
			return
		}
		if len(recs) > 0 {
			writeRaw(w, http.StatusOK, recs[0].Result)
			return
		}
	}
	s.writeJSON(w, http.StatusAccepted, pendingJSON{JobID: jobID(id), StatusURL: url, JobStatus: store.StatusRunning})
}

// loadJob fetches a job, answering 404 or 500 itself when it cannot.
func (s *server) loadJob(w http.ResponseWriter, r *http.Request, id string) (store.Job, bool) {
	if !validJobID(id) {
		s.writeError(w, http.StatusNotFound, "Job not found.")
		return store.Job{}, false
	}
	job, err := s.deps.Jobs.GetJob(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(w, http.StatusNotFound, "Job not found.")
		return store.Job{}, false
	}
	if err != nil {
		s.internalError(w, fmt.Errorf("get job %s: %w", id, err))
		return store.Job{}, false
	}
	return job, true
}

// requireJobs answers 503 when the server runs without a job store or
// queue (a check-only deployment).
func (s *server) requireJobs(w http.ResponseWriter) bool {
	if s.deps.Jobs == nil || s.deps.Queue == nil {
		s.writeError(w, http.StatusServiceUnavailable, "Jobs are not available on this server.")
		return false
	}
	return true
}
