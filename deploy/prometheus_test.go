package deploy

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/servetest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

var screenshot = flag.Bool("screenshot", false, "save Prometheus's graph of the p95 query as ../docs/prometheus-p95.png")

const (
	testSecret = "obs-suite-secret"
	backend    = "obs-test"
	// blockedReply is what an MX says to an address from a blocklisted
	// IP: the check ends with an error object, reacher_errors_total.
	blockedReply = "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus."
)

// world is the loopback internet of the suite: DNS, two SMTP servers on
// one port (one greylisting), a working SOCKS5 proxy and a dead one.
type world struct{ env []string }

func startWorld(t *testing.T) world {
	t.Helper()
	mail := smtptest.Start(t, smtptest.Options{
		Delay: 40 * time.Millisecond, // a round trip, so probes take a few hundred ms
		Mailbox: func(rcpt string) string {
			switch {
			case strings.HasPrefix(rcpt, "blocked"):
				return blockedReply
			case strings.HasPrefix(rcpt, "nobody"):
				return smtptest.UnknownReply
			case strings.Contains(rcpt, "@example.com"):
				if len(strings.Split(rcpt, "@")[0]) == 15 { // the catch-all probe's random name
					return smtptest.UnknownReply
				}
				return smtptest.AcceptReply
			}
			return smtptest.UnknownReply
		},
	})
	grey := smtptest.Start(t, smtptest.Options{
		Addr: fmt.Sprintf("127.0.0.3:%d", mail.Port()), Greylist: 1, CatchAll: true,
	})
	dns := dnstest.Start(t, nil)
	dns.AddMX("example.com.", 10, "mx.example.com.")
	dns.AddA("mx.example.com.", mail.Host())
	dns.AddMX("grey.test.", 10, "mx.grey.test.")
	dns.AddA("mx.grey.test.", grey.Host())
	good := sockstest.Start(t, sockstest.Options{User: "u", Pass: "p"})
	dead := fmt.Sprintf("socks5://u:p@127.0.0.1:%d", freePort(t))
	return world{env: []string{
		"RCH__BACKEND_NAME=" + backend,
		"MAILPROBE_PROXIES=" + dead + "," + good.URL(), // url1 is dead
		fmt.Sprintf("RCH__SMTP_PORT=%d", mail.Port()),
		"RCH__SMTP_TIMEOUT=10",
		"RCH__DNS=" + dns.Addr,
		"RCH__ALLOW_PRIVATE_MX=true",
		"RCH__CACHE_TTL=0",
		"RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE=0",
		"RCH__THROTTLE__MAX_REQUESTS_PER_DAY=0",
		// One session at a time per MX host: concurrent checks wait for
		// each other, which the politeness metrics must show.
		"RCH__WORKER__RABBITMQ__CONCURRENCY=1",
	}}
}

// verifications is how many final results drive produces: five inline
// checks and eight bulk addresses (the greylisted check is not final).
const verifications = 13

// drive runs a few concurrent checks, a greylisted one and a small bulk
// job, and waits for the job to complete.
func drive(t *testing.T, s *serve) {
	t.Helper()
	var wg sync.WaitGroup
	for _, addr := range []string{"ann@example.com", "bob@example.com", "nobody@example.com",
		"blocked1@example.com", "blocked2@example.com"} {
		wg.Go(func() {
			var res map[string]any
			if code := s.do(t, "POST", "/v0/check_email", `{"to_email":"`+addr+`"}`, &res); code != 200 {
				t.Errorf("check %s: %d %v", addr, code, res)
			}
		})
	}
	wg.Wait()
	// Greylisted: answered 200 with the result so far, as Reacher, and
	// queued with the server's delay to go on in the background.
	if code := s.do(t, "POST", "/v0/check_email", `{"to_email":"grey@grey.test"}`, nil); code != 200 {
		t.Errorf("greylisted check: %d, want 200", code)
	}
	var job struct {
		JobID json.Number `json:"job_id"`
	}
	in := `{"input":["carol@example.com","dave@example.com","erin@example.com","nobody2@example.com",` +
		`"blocked3@example.com","blocked4@example.com","blocked5@example.com","frank@example.com"]}`
	if code := s.do(t, "POST", "/v1/bulk", in, &job); code != 200 {
		t.Fatalf("bulk: %d", code)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var st struct {
			JobStatus string `json:"job_status"`
		}
		s.do(t, "GET", "/v1/bulk/"+job.JobID.String(), "", &st)
		if st.JobStatus == "Completed" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bulk job %s still %s", job.JobID, st.JobStatus)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// completions are the serve log's "Verification completed" lines.
func completions(s *serve) []map[string]any {
	var out []map[string]any
	for _, l := range servetest.LogLines(s.proc.Logs()) {
		if l["message"] == "Verification completed" {
			out = append(out, l)
		}
	}
	return out
}

// TestPrometheusScrapesServe runs the shipped dashboard queries and alert
// rules on a private Prometheus scraping a real `mailprobe serve` (with
// the bearer secret, every second) after real checks and a bulk job.
func TestPrometheusScrapesServe(t *testing.T) {
	promBin := requireTool(t, "prometheus")
	w := startWorld(t)
	srv := startServe(t, testSecret, w.env)
	dir := t.TempDir()
	cfg := testConfig(t, dir, strings.TrimPrefix(srv.base, "http://"), testSecret, testRules(t, dir, "1s"), "1s")
	p := startPrometheus(t, promBin, cfg)
	// Scraped before any verification: every series starts at zero, so
	// rate() sees all of them.
	p.waitFor(t, "first scrape with the bearer secret", `up{job="mailprobe"} == 1`, 30*time.Second, nonEmpty)

	drive(t, srv)
	// The job reads Completed once its results are stored; their log
	// lines follow.
	var done []map[string]any
	for deadline := time.Now().Add(30 * time.Second); len(done) < verifications; time.Sleep(100 * time.Millisecond) {
		if done = completions(srv); time.Now().After(deadline) {
			t.Fatalf("%d verification log lines, want %d", len(done), verifications)
		}
	}
	want := strconv.Itoa(len(done))
	p.waitFor(t, "all verifications scraped", `sum(reacher_verifications_total)`, 30*time.Second,
		func(s []sample) bool { return len(s) == 1 && fmt.Sprint(s[0].Value[1]) == want })

	t.Run("dashboard queries return series", func(t *testing.T) {
		titles, exprs := grafanaQueries(t)
		for i, expr := range exprs {
			got, err := p.query(t, expr)
			if err != nil || len(got) == 0 {
				t.Errorf("panel %q: %s = %v, %v; want series", titles[i], expr, got, err)
			}
		}
	})
	t.Run("p95 within the buckets of the probe times", func(t *testing.T) { checkP95(t, p, done) })
	t.Run("operator metrics", func(t *testing.T) { checkOperatorMetrics(t, p) })
	t.Run("alert expressions evaluate", func(t *testing.T) { checkRuleExprs(t, p) })
	t.Run("error-rate alert fires", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			i := slices.IndexFunc(p.rules(t), func(r ruleState) bool { return r.Name == "MailprobeHighErrorRate" })
			if i >= 0 && p.rules(t)[i].State == "firing" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("MailprobeHighErrorRate not firing: %+v", p.rules(t))
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
	t.Run("verification log lines", func(t *testing.T) { checkLogLines(t, done) })
	if *screenshot {
		takeScreenshot(t, p)
	}
}

func nonEmpty(s []sample) bool { return len(s) > 0 }

// checkP95 compares the p95 Prometheus computes from the histogram with
// the durations the log lines report: it must lie in the bucket that holds
// the nearest-rank p95 of those durations (histogram_quantile interpolates
// inside that bucket).
func checkP95(t *testing.T, p *promServer, done []map[string]any) {
	_, exprs := grafanaQueries(t)
	i := slices.IndexFunc(exprs, func(e string) bool { return strings.HasPrefix(e, "histogram_quantile(0.95,") })
	got, err := p.query(t, exprs[i])
	if err != nil || len(got) != 1 {
		t.Fatalf("%s = %v, %v", exprs[i], got, err)
	}
	p95 := got[0].float(t)
	var secs []float64
	for _, l := range done {
		secs = append(secs, l["duration_ms"].(float64)/1000)
	}
	slices.Sort(secs)
	rank := int(math.Ceil(0.95*float64(len(secs)))) - 1
	// Logged milliseconds are truncated: the true duration may be up to
	// 1 ms longer, possibly in the next bucket.
	lo, hi := bucketOf(secs[rank]), bucketOf(secs[rank]+0.001)
	if p95 < lo[0] || p95 > hi[1] {
		t.Errorf("p95 = %v s, want within (%v, %v] around the %d-th of %v", p95, lo[0], hi[1], rank+1, secs)
	}
	t.Logf("p95 %.3f s; durations %v", p95, secs)
}

// bucketOf returns the (lower, upper] bounds of the histogram bucket of v.
func bucketOf(v float64) [2]float64 {
	lower := 0.0
	for _, le := range metrics.DurationBuckets {
		if v <= le {
			return [2]float64{lower, le}
		}
		lower = le
	}
	return [2]float64{lower, math.Inf(1)}
}

// checkOperatorMetrics checks the metrics beside the guide's four against
// what the suite provoked.
func checkOperatorMetrics(t *testing.T, p *promServer) {
	wait := 20 * time.Second
	p.waitFor(t, "dead proxy counted", `reacher_proxy_failures_total{proxy="url1",kind="unreachable"} >= 1`, wait, nonEmpty)
	p.waitFor(t, "working proxy not counted", `sum(reacher_proxy_failures_total{proxy="url2"}) == 0`, wait, nonEmpty)
	p.waitFor(t, "politeness waits at the MX", `reacher_politeness_waits_total{mx="mx.example.com."} >= 1`, wait, nonEmpty)
	p.waitFor(t, "greylisted address waits for its retry", `reacher_retries_waiting == 1`, wait, nonEmpty)
	p.waitFor(t, "its message is delayed", `reacher_queue_messages{queue="work",state="delayed"} == 1`, wait, nonEmpty)
	p.waitFor(t, "no dead letters", `sum(reacher_queue_messages{queue="dead_letter"}) == 0`, wait, nonEmpty)
	p.waitFor(t, "errors counted", `reacher_errors_total >= 5`, wait, nonEmpty)
}

// checkRuleExprs evaluates every expression of the shipped rules file and
// checks Prometheus itself evaluates every rule without error.
func checkRuleExprs(t *testing.T, p *promServer) {
	rules := readYAML(t, rulesFile)
	n := 0
	for _, g := range rules["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			if _, err := p.query(t, rule["expr"].(string)); err != nil {
				t.Errorf("%s: %v", rule["alert"], err)
			}
			n++
		}
	}
	states := p.rules(t)
	if len(states) != n {
		t.Errorf("Prometheus loaded %d rules, the file has %d", len(states), n)
	}
	for _, r := range states {
		if r.Health == "err" || r.LastError != "" {
			t.Errorf("rule %s: health %s, %s", r.Name, r.Health, r.LastError)
		}
	}
}

// checkLogLines checks the guide's fields on every verification line, and
// that no address is logged without log_emails.
func checkLogLines(t *testing.T, done []map[string]any) {
	if len(done) != verifications {
		t.Errorf("%d verification lines, want one per check and bulk address (%d)", len(done), verifications)
	}
	for _, l := range done {
		for _, k := range []string{"timestamp", "level", "message", "result", "duration_ms", "backend", "email_hash"} {
			if _, ok := l[k]; !ok {
				t.Errorf("line without %s: %v", k, l)
			}
		}
		if _, ok := l["email"]; ok {
			t.Errorf("address logged without log_emails: %v", l)
		}
		if l["backend"] != backend || l["level"] != "info" {
			t.Errorf("line %v: want backend %s, level info", l, backend)
		}
	}
}

// takeScreenshot saves Prometheus's own graph of the p95 query, rendered
// by headless Chromium, for the README.
func takeScreenshot(t *testing.T, p *promServer) {
	chromium := requireTool(t, "chromium")
	_, exprs := grafanaQueries(t)
	i := slices.IndexFunc(exprs, func(e string) bool { return strings.HasPrefix(e, "histogram_quantile(0.95,") })
	page := p.base + "/classic/graph?g0.expr=" + url.QueryEscape(exprs[i]) + "&g0.tab=0&g0.range_input=20s"
	out, err := filepath.Abs(filepath.Join("..", "docs", "prometheus-p95.png"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir="+t.TempDir(), "--window-size=1280,960", "--virtual-time-budget=10000",
		"--screenshot="+out, page)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, b)
	}
	if st, err := os.Stat(out); err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v", out, err)
	}
	t.Logf("saved %s", out)
}
