package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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

// headerStatusURL carries, on a 200 whose result did not conclude (unknown
// for a retryable cause), the URL of the check that goes on in the
// background: GET it for the final result.
const headerStatusURL = "X-Mailprobe-Status-Url"

// checkEmail serves POST /v0/check_email and /v1/check_email.
//
// As Reacher, it answers 200 with a result: as soon as the engine
// finishes, and at the latest when Config.InlineBudget is spent (API
// Gateway cuts every request at 30 s), with the result so far. When that
// result did not conclude for a retryable cause (greylisting, a timeout, a
// proxy failure), the address is also queued as a single-shot job, retried
// in the background, and the 200 carries its status URL in
// X-Mailprobe-Status-Url. A client that prefers the asynchronous answer
// sends Prefer: respond-async (RFC 7240): it gets 202 and a status URL at
// once, or, with wait=N, after at most N seconds of trying inline.
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

	pref := parsePrefer(r.Header.Values("Prefer"))
	async := pref.async && s.jobsAvailable()
	budget := s.cfg.InlineBudget
	if async {
		if !pref.hasWait || pref.wait <= 0 {
			s.deferCheck(w, r, body.Request, 0)
			return
		}
		budget = min(budget, pref.wait)
	}

	ctx, cancel := context.WithTimeout(r.Context(), budget)
	start := s.deps.Now()
	res, verr := s.deps.Checker.Verify(ctx, body.Request)
	cancel()
	dur := s.deps.Now().Sub(start)
	if r.Context().Err() != nil {
		// The caller went away: nobody reads the answer, and nobody will
		// read a status URL. 499 is for the log only (nginx's "client
		// closed request").
		s.writeError(w, 499, "Client closed the request.")
		return
	}

	final := verr == nil && res.Retry == nil
	retrying := false
	if !final && s.jobsAvailable() {
		if async {
			s.deferCheck(w, r, body.Request, retryDelay(res, verr))
			return
		}
		retrying = s.retryInBackground(w, r, body.Request, retryDelay(res, verr))
	}
	b, err := json.Marshal(res)
	if err != nil {
		s.internalError(w, fmt.Errorf("encode result: %w", err))
		return
	}
	if final {
		c.store(r.Context(), res, b)
	}
	if !retrying && s.deps.Metrics != nil {
		// The background retry is observed by the worker that concludes it.
		s.deps.Metrics.Observe(res, dur)
	}
	w.Header().Set(headerCache, c.state)
	writeRaw(w, http.StatusOK, b)
}

// retryDelay is when a check that did not conclude is worth trying again:
// as late as the server asked (greylisting), at once after a timeout.
func retryDelay(res engine.Result, verr error) time.Duration {
	if verr == nil && res.Retry != nil {
		return queue.ClampDelay(res.Retry.After)
	}
	return 0
}

// validateCheck reports what is wrong with a request, in Reacher's words
// where Reacher has them.
func (s *server) validateCheck(req engine.Request) error {
	if strings.TrimSpace(req.ToEmail) == "" {
		return badRequest("to_email field is required.")
	}
	if req.Proxy != nil && s.auth.open {
		// Reacher honours a request's proxy; mailprobe does too, but only
		// for callers who proved they hold the secret: on an open server
		// anyone could make it connect anywhere through any proxy.
		return badRequest("The proxy field is accepted only with an x-reacher-secret; this server runs without one.")
	}
	if err := req.Validate(); err != nil {
		// Validate's messages are written for API clients.
		return badRequest("%s.", err.Error())
	}
	return nil
}

// queueCheck stores a single-shot job for req (Total 1, marked SingleShot
// so that GET /v1/check_email serves it and no bulk route does) and queues
// it, delivered after delay. It returns the job's status URL.
func (s *server) queueCheck(ctx context.Context, req engine.Request, delay time.Duration) (id, url string, err error) {
	reqJSON, err := json.Marshal(req)
	if err != nil {
		return "", "", fmt.Errorf("encode request: %w", err)
	}
	// The message is encoded for the job's id before the job is stored, as
	// for a bulk job: a message the queue would refuse leaves no job behind.
	var body []byte
	id, err = s.createJob(ctx, store.Job{Total: 1, SingleShot: true}, func(id string) (err error) {
		body, err = queue.Encode(queue.Message{
			Version: queue.Version,
			JobID:   id,
			Items:   []queue.Item{{Index: 0, Email: req.ToEmail}},
			Request: reqJSON,
		})
		return err
	})
	if err != nil {
		return "", "", err
	}
	// Once the job exists, it is queued even if the client goes away.
	if err := s.deps.Queue.SendRaw(context.WithoutCancel(ctx), delay, body); err != nil {
		return "", "", fmt.Errorf("enqueue single-shot job %s: %w", id, err)
	}
	return id, "/v1/check_email/" + id, nil
}

// deferCheck answers 202 with the status URL of a queued check: the
// client asked for the asynchronous answer (Prefer: respond-async).
func (s *server) deferCheck(w http.ResponseWriter, r *http.Request, req engine.Request, delay time.Duration) {
	id, url, err := s.queueCheck(r.Context(), req, delay)
	if err != nil {
		s.internalError(w, err)
		return
	}
	h := w.Header()
	h.Set("Location", url)
	h.Set(headerPreferenceApplied, "respond-async")
	h.Set("Vary", "Prefer")
	s.writeJSON(w, http.StatusAccepted, pendingJSON{JobID: jobID(id), StatusURL: url, JobStatus: store.StatusRunning})
}

// retryInBackground queues a check whose inline result did not conclude
// and names its status URL in a header of the 200 about to be sent. When
// the queue fails, the inline result is still the answer (as Reacher's
// would be): the failure is logged, and the client sees no status URL.
func (s *server) retryInBackground(w http.ResponseWriter, r *http.Request, req engine.Request, delay time.Duration) bool {
	_, url, err := s.queueCheck(r.Context(), req, delay)
	if err != nil {
		s.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelError, "background retry not queued",
			slog.String("request_id", idOf(w)), slog.String("error", err.Error()))
		return false
	}
	w.Header().Set(headerStatusURL, url)
	return true
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
	if err != nil {
		s.writeJobError(w, fmt.Errorf("get job %s: %w", id, err))
		return store.Job{}, false
	}
	return job, true
}

// jobsAvailable reports whether the server has a job store and a queue.
func (s *server) jobsAvailable() bool { return s.deps.Jobs != nil && s.deps.Queue != nil }

// requireJobs answers 503 when the server runs without a job store or
// queue (a check-only deployment).
func (s *server) requireJobs(w http.ResponseWriter) bool {
	if !s.jobsAvailable() {
		s.writeError(w, http.StatusServiceUnavailable, "Jobs are not available on this server.")
		return false
	}
	return true
}
