package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ExportStore keeps full exports of jobs' results where a client can
// download them without the secret, behind short-lived URLs: an S3 bucket
// on Lambda (package s3export), whose responses are capped at 6 MB.
// Exports are written once per key: a key names one state of one job.
type ExportStore interface {
	// Publish returns a short-lived URL of the export key and when it
	// expires, first writing it with write unless it exists already.
	// contentType and filename (the name a browser saves it under) go with
	// the object.
	Publish(ctx context.Context, key, contentType, filename string, write func(io.Writer) error) (url string, expires time.Time, err error)
}

// exportLink is the body of POST /v1/bulk/{job_id}/export, and of the 303
// that redirects a CSV request without limit to an export.
type exportLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// exportKey names the export of a job's results from offset on. The
// job's progress is part of the name, so a finished job is exported once
// and a running one once per state; an id without a job record (whose
// progress is unknown) once per minute.
func exportKey(job jobView, format string, offset int, now time.Time) string {
	state := strconv.Itoa(job.processed)
	if job.processed < 0 {
		state = "t" + strconv.FormatInt(now.Unix()/60, 10)
	}
	if offset > 0 {
		state += "-from-" + strconv.Itoa(offset)
	}
	return "exports/" + job.id + "/" + state + "." + format
}

// bulkExport serves POST /v1/bulk/{job_id}/export?format=csv|json: a
// short-lived URL of the job's full results that needs no secret, for
// browsers and plain downloaders. On Lambda it is a presigned S3 URL; in
// `mailprobe serve`, a local URL signed with HMAC-SHA256.
func (s *server) bulkExport(w http.ResponseWriter, r *http.Request) {
	if !s.requireJobs(w) {
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "csv"
	}
	if format != "csv" && format != "json" {
		s.writeError(w, http.StatusBadRequest, "format must be csv or json.")
		return
	}
	job, err := s.viewJob(r.Context(), r.PathValue("job_id"))
	if err != nil {
		s.writeJobError(w, err)
		return
	}
	if s.deps.Exports == nil && s.cfg.BufferedResponses {
		s.writeError(w, http.StatusServiceUnavailable, "Exports are not available on this server (no export bucket configured).")
		return
	}
	link, err := s.publish(r, job, format, 0)
	if err != nil {
		s.internalError(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, http.StatusOK, link)
}

// publish returns a short-lived URL of the job's results from offset on:
// from the ExportStore when there is one, else a signed URL of this
// server's own GET /v1/bulk/{job_id}/export (offset 0 only).
func (s *server) publish(r *http.Request, job jobView, format string, offset int) (exportLink, error) {
	now := s.deps.Now()
	if s.deps.Exports == nil {
		expires := now.Add(s.cfg.ExportTTL).Truncate(time.Second)
		return exportLink{URL: s.signedExportURL(r, job.id, format, expires), ExpiresAt: expires.UTC()}, nil
	}
	key := exportKey(job, format, offset, now)
	ctx := r.Context()
	u, expires, err := s.deps.Exports.Publish(ctx, key, contentTypes[format], exportFilename(job.id, format), func(w io.Writer) error {
		return s.writeResults(ctx, w, job.id, format, offset, nil)
	})
	if err != nil {
		return exportLink{}, fmt.Errorf("publish export %s: %w", key, err)
	}
	return exportLink{URL: u, ExpiresAt: expires.UTC()}, nil
}

// signedExportURL is an absolute URL of GET /v1/bulk/{id}/export on the
// host the client reached, valid until expires.
func (s *server) signedExportURL(r *http.Request, id, format string, expires time.Time) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	exp := strconv.FormatInt(expires.Unix(), 10)
	q := url.Values{"format": {format}, "expires": {exp}, "signature": {s.exportSignature(id, format, exp)}}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: "/v1/bulk/" + id + "/export", RawQuery: q.Encode()}
	return u.String()
}

// exportSignature is HMAC-SHA256 over what the URL grants: the job, the
// format and the expiry.
func (s *server) exportSignature(id, format, expires string) string {
	m := hmac.New(sha256.New, s.cfg.ExportKey)
	m.Write([]byte("mailprobe export\n" + id + "\n" + format + "\n" + expires))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// exportDownload serves GET /v1/bulk/{job_id}/export?format&expires&signature,
// the signed local URL: no secret, but a valid signature and an expiry
// still in the future. The results are streamed.
func (s *server) exportDownload(w http.ResponseWriter, r *http.Request) {
	if !s.requireJobs(w) {
		return
	}
	q := r.URL.Query()
	id, format, exp := r.PathValue("job_id"), q.Get("format"), q.Get("expires")
	want := s.exportSignature(id, format, exp)
	unix, err := strconv.ParseInt(exp, 10, 64)
	if !hmac.Equal([]byte(q.Get("signature")), []byte(want)) || err != nil || contentTypes[format] == "" {
		s.writeError(w, http.StatusForbidden, "Export link is not valid.")
		return
	}
	if !s.deps.Now().Before(time.Unix(unix, 0)) {
		s.writeError(w, http.StatusForbidden, "Export link has expired; ask POST /v1/bulk/"+id+"/export for a new one.")
		return
	}
	job, err := s.viewJob(r.Context(), id)
	if err != nil {
		s.writeJobError(w, err)
		return
	}
	s.streamResults(w, r, job, format, 0)
}
