package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/address"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/store/bolt"
)

// testSecret is the x-reacher-secret of every test server and of the
// events/api-*.json files.
const testSecret = "test-secret"

// clock is a settable fake clock, safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeChecker answers with fn and counts calls.
type fakeChecker struct {
	calls atomic.Int64
	// allowed is the time the last call's ctx left the engine: the time
	// to its deadline when the call began.
	allowed atomic.Int64
	fn      func(ctx context.Context, req engine.Request) (engine.Result, error)
}

func (f *fakeChecker) Verify(ctx context.Context, req engine.Request) (engine.Result, error) {
	f.calls.Add(1)
	if dl, ok := ctx.Deadline(); ok {
		f.allowed.Store(int64(time.Until(dl)))
	}
	return f.fn(ctx, req)
}

// fakeQueue records what was sent, decoded as a worker would receive it.
type fakeQueue struct {
	mu     sync.Mutex
	msgs   []queue.Message
	delays []time.Duration
	err    error
}

func (q *fakeQueue) SendRaw(_ context.Context, delay time.Duration, bodies ...[]byte) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	for _, b := range bodies {
		m, err := queue.Decode(b)
		if err != nil {
			return err // the API sent a body a worker would refuse
		}
		q.msgs = append(q.msgs, m)
		q.delays = append(q.delays, delay)
	}
	return nil
}

func (q *fakeQueue) sent() ([]queue.Message, []time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queue.Message(nil), q.msgs...), append([]time.Duration(nil), q.delays...)
}

// fakeMetrics counts observations.
type fakeMetrics struct {
	mu   sync.Mutex
	seen []engine.Reachability
}

func (m *fakeMetrics) Observe(r engine.Result, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, r.IsReachable)
}

// syncBuffer is a log sink safe for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(t testing.TB) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

var testEpoch = time.Date(2025, 7, 26, 16, 13, 0, 0, time.UTC)

// harness is one API under test with fakes and a real bolt store.
type harness struct {
	h       http.Handler
	cfg     Config
	clock   *clock
	checker *fakeChecker
	store   *bolt.Store
	queue   *fakeQueue
	metrics *fakeMetrics
	logs    *syncBuffer
	spec    *specValidator
	nextID  atomic.Int64
}

// newHarness builds an API whose checker answers safe for every address.
// mutate may change the configuration and dependencies first.
func newHarness(t testing.TB, mutate func(*Config, *Deps)) *harness {
	t.Helper()
	clk := &clock{t: testEpoch}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "store.db"), bolt.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	hs := &harness{
		clock: clk,
		checker: &fakeChecker{fn: func(_ context.Context, req engine.Request) (engine.Result, error) {
			return testResult(req.ToEmail, engine.Safe), nil
		}},
		store:   st,
		queue:   &fakeQueue{},
		metrics: &fakeMetrics{},
		logs:    &syncBuffer{},
		spec:    newSpecValidator(t),
	}
	cfg := DefaultConfig()
	cfg.Secret = testSecret
	cfg.CacheTTL = 24 * time.Hour // off by default; the cache tests need it
	deps := Deps{
		Checker:  hs.checker,
		Jobs:     st,
		Queue:    hs.queue,
		Cache:    st,
		Metrics:  hs.metrics,
		Logger:   slog.New(slog.NewJSONHandler(hs.logs, nil)),
		Now:      clk.Now,
		NewJobID: func() string { return strconv.FormatInt(1000+hs.nextID.Add(1), 10) },
	}
	if mutate != nil {
		mutate(&cfg, &deps)
	}
	if fc, ok := deps.Checker.(*fakeChecker); ok {
		hs.checker = fc
	}
	hs.cfg = cfg
	hs.h = New(cfg, deps)
	return hs
}

// response is a recorded response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

func (r response) errorText(t testing.TB) string {
	t.Helper()
	s, _ := r.json(t)["error"].(string)
	return s
}

// do sends a request with the test secret (unless headers set
// x-reacher-secret, "" meaning none) and validates the response against
// openapi.json.
func (hs *harness) do(t testing.TB, method, target, body string, headers map[string]string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("x-reacher-secret", testSecret)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		switch {
		case k == "Host":
			req.Host = v
		case k == "RemoteAddr":
			req.RemoteAddr = v
		case v == "":
			req.Header.Del(k)
		default:
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	hs.h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	hs.spec.check(t, method, target, res.StatusCode, res.Header, b)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// testResult builds a complete result as the engine would for a
// deliverable (or not) mailbox.
func testResult(email string, verdict engine.Reachability) engine.Result {
	res := engine.Result{Input: email, IsReachable: verdict}
	res.Debug = engine.Debug{
		BackendName: "test",
		StartTime:   testEpoch,
		EndTime:     testEpoch.Add(1500 * time.Millisecond),
		Duration:    engine.DurationOf(1500 * time.Millisecond),
		SMTP:        engine.DebugSMTP{VerifMethod: engine.VerifMethod{Type: "Skipped"}},
	}
	addr, err := address.Parse(email)
	if err != nil {
		res.IsReachable = engine.Invalid
		res.Misc = engine.OK(engine.Misc{})
		res.MX = engine.OK(engine.MX{Records: []string{}})
		return res
	}
	res.Normalized = addr.Normalized
	res.Syntax = engine.SyntaxOf(addr, res.IsReachable)
	res.Misc = engine.OK(engine.Misc{IsB2C: true})
	res.MX = engine.OK(engine.MX{AcceptsMail: true, Records: []string{"mx." + addr.Domain + "."}})
	res.SMTP = engine.OK(engine.SMTP{CanConnectSMTP: true, IsDeliverable: verdict == engine.Safe || verdict == engine.Risky})
	res.Debug.SMTP.VerifMethod = engine.VerifMethod{Type: "Smtp", Host: "mx." + addr.Domain + ".",
		VerifMethod: &engine.SMTPVerifDetails{FromEmail: "hello@localhost", HelloName: "localhost", SMTPPort: 25,
			SMTPTimeout: &engine.Duration{Secs: 45}, Retries: 1}}
	return res
}

// storeResult plays the worker: it stores the result of one job item.
func (hs *harness) storeResult(t testing.TB, jobID string, index int, res engine.Result) {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = hs.store.PutResult(context.Background(), store.Record{
		JobID: jobID, Index: index, Input: res.Input, Normalized: res.Normalized,
		IsReachable: string(res.IsReachable), Result: b, CreatedAt: hs.clock.Now(), BackendName: "test", DurationMs: 1500,
	})
	if err != nil {
		t.Fatal(err)
	}
}
