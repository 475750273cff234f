package app_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/app"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/metrics/prom"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/servetest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

const secret = "local-test-secret"

type localEnv struct {
	cfg  config.Config
	smtp *smtptest.Server
}

func newLocalEnv(t *testing.T) localEnv {
	dns := dnstest.Start(t, nil)
	proxy := sockstest.Start(t, sockstest.Options{User: "u", Pass: "p"})
	srv := smtptest.Start(t, smtptest.Options{Users: map[string]string{
		"ann@local.test": "250 OK", "bob@local.test": "250 OK",
	}})
	dns.AddMX("local.test.", 10, "mx.local.test.")
	dns.AddA("mx.local.test.", srv.Host())
	cfg, err := config.Load(config.Options{Environ: []string{
		"RCH__HEADER_SECRET=" + secret,
		"MAILPROBE_PROXIES=" + proxy.URL(),
		fmt.Sprintf("RCH__SMTP_PORT=%d", srv.Port()),
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.DNS = []string{dns.Addr}
	cfg.AllowPrivateMX = true
	cfg.Storage.DataDir = t.TempDir()
	return localEnv{cfg: cfg, smtp: srv}
}

func call(t testing.TB, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-reacher-secret", secret)
	req.Header.Set("content-type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestServeBulkSurvivesRestart(t *testing.T) {
	e := newLocalEnv(t)
	base, stop := servetest.Start(t, e.cfg, nil)

	code, body := call(t, "POST", base+"/v0/check_email", `{"to_email":"ann@local.test"}`)
	if code != 200 || !strings.Contains(string(body), `"is_reachable":"safe"`) {
		t.Fatalf("check: %d %s", code, body)
	}
	code, body = call(t, "POST", base+"/v1/bulk", `{"input":["ann@local.test","bob@local.test","zed@local.test","not-an-address"]}`)
	if code != 200 {
		t.Fatalf("bulk: %d %s", code, body)
	}
	var created struct {
		JobID json.Number `json:"job_id"`
	}
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	status := waitCompleted(t, base, created.JobID.String())
	stop()
	if status.Summary.Safe != 2 || status.Summary.Invalid != 2 || status.Processed != 4 {
		t.Fatalf("summary = %+v processed %d, want 2 safe and 2 invalid", status.Summary, status.Processed)
	}

	// A new process on the same data directory still has the job.
	base, stop = servetest.Start(t, e.cfg, nil)
	defer stop()
	code, body = call(t, "GET", base+"/v1/bulk/"+created.JobID.String()+"/results?format=csv", "")
	if code != 200 || strings.Count(string(body), "\n") != 5 {
		t.Fatalf("csv after restart: %d\n%s", code, body)
	}
}

type jobStatus struct {
	Status    string `json:"job_status"`
	Processed int    `json:"total_processed"`
	Summary   struct {
		Safe    int `json:"total_safe"`
		Invalid int `json:"total_invalid"`
	} `json:"summary"`
}

func waitCompleted(t *testing.T, base, id string) jobStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := call(t, "GET", base+"/v1/bulk/"+id, "")
		var s jobStatus
		if code == 200 {
			if err := json.Unmarshal(body, &s); err != nil {
				t.Fatal(err)
			}
			if s.Status == "Completed" {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not completed: %d %s", id, code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServeObservesInlineChecks: locally, an inline check is counted in
// the Prometheus registry served on /metrics and logged with the guide's
// line (the address hashed, as log_emails is off).
func TestServeObservesInlineChecks(t *testing.T) {
	e := newLocalEnv(t)
	var logs syncBuffer
	base, stop := servetest.Start(t, e.cfg, app.NewLogger(&logs, "info"))
	defer stop()
	code, body := call(t, "POST", base+"/v0/check_email", `{"to_email":"ann@local.test"}`)
	if code != 200 || !strings.Contains(string(body), `"is_reachable":"safe"`) {
		t.Fatalf("check: %d %s", code, body)
	}
	code, body = call(t, "GET", base+"/metrics", "")
	if code != 200 || !strings.Contains(string(body), `reacher_verifications_by_result{result="safe"} 1`) {
		t.Errorf("metrics: %d\n%s", code, body)
	}
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"message":"Verification completed"`) {
			line = l
		}
	}
	if !strings.Contains(line, `"result":"safe"`) || !strings.Contains(line, `"email_hash":"`) || strings.Contains(line, "ann@") {
		t.Errorf("completion line %q, want result safe and a hashed address; logs:\n%s", line, logs.String())
	}
}

func TestNewLocalRefusesSecretReferences(t *testing.T) {
	for _, env := range []string{"RCH__HEADER_SECRET=ssm:/mailprobe/header-secret", "RCH__HEADER_SECRET=secretsmanager:mailprobe/header",
		"RCH__HEADER_SECRET=secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:x", "MAILPROBE_PROXIES=ssm:/mailprobe/proxies"} {
		t.Run(env, func(t *testing.T) {
			cfg, err := config.Load(config.Options{Environ: []string{env}})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Storage.DataDir = t.TempDir()
			if _, err := app.NewLocal(cfg, slog.New(slog.DiscardHandler), prom.New(prom.Options{})); !errors.Is(err, app.ErrSecretRef) {
				t.Errorf("NewLocal = %v, want ErrSecretRef", err)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
