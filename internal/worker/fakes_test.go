package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/local"
	"github.com/mailprobe/mailprobe/internal/queue/sqsq"
	"github.com/mailprobe/mailprobe/internal/store/bolt"
	"github.com/mailprobe/mailprobe/internal/store/dynamo"
	"github.com/mailprobe/mailprobe/internal/webhook"
	"github.com/mailprobe/mailprobe/internal/worker"
)

func testLogger(w io.Writer) *slog.Logger {
	return slog.New(worker.NewLogHandler(w, slog.LevelDebug))
}

// The real implementations satisfy the worker's interfaces.
var (
	_ worker.ResultStore = (*bolt.Store)(nil)
	_ worker.ResultStore = (*dynamo.Store)(nil)
	_ worker.Rescheduler = (*sqsq.Queue)(nil)
	_ worker.Rescheduler = (*local.Queue)(nil)
	_ worker.LocalQueue  = (*local.Queue)(nil)
	_ worker.Notifier    = (*webhook.Client)(nil)
)

// recordingQueue forwards reschedules to the real local queue without
// their delay (tests do not wait minutes) and records what was asked.
type recordingQueue struct {
	next   worker.Rescheduler
	mu     sync.Mutex
	delays []time.Duration
	msgs   []queue.Message
}

func (r *recordingQueue) Send(ctx context.Context, msgs []queue.Message, delay time.Duration) error {
	r.mu.Lock()
	r.delays = append(r.delays, delay)
	r.msgs = append(r.msgs, msgs...)
	r.mu.Unlock()
	return r.next.Send(ctx, msgs, 0)
}

func (r *recordingQueue) sent() ([]time.Duration, []queue.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.delays...), append([]queue.Message(nil), r.msgs...)
}

// gauge wraps a verifier to measure how many verifications run at once,
// overall and per domain.
type gauge struct {
	next      worker.Verifier
	mu        sync.Mutex
	cur, top  int
	perDomain map[string]int
	topDomain int
	calls     int
	after     func(calls int) // called after each verification
}

func (g *gauge) Verify(ctx context.Context, req engine.Request) (engine.Result, error) {
	d := queue.Domain(req.ToEmail)
	g.mu.Lock()
	if g.perDomain == nil {
		g.perDomain = make(map[string]int)
	}
	g.cur++
	g.perDomain[d]++
	g.top = max(g.top, g.cur)
	g.topDomain = max(g.topDomain, g.perDomain[d])
	g.mu.Unlock()
	res, err := g.next.Verify(ctx, req)
	g.mu.Lock()
	g.cur--
	g.perDomain[d]--
	g.calls++
	calls := g.calls
	g.mu.Unlock()
	if g.after != nil {
		g.after(calls)
	}
	return res, err
}

func (g *gauge) stats() (top, topDomain, calls int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.top, g.topDomain, g.calls
}

// hookReceiver is a real HTTP server on loopback that records webhook
// bodies.
type hookReceiver struct {
	URL    string
	mu     sync.Mutex
	bodies []hookBody
}

type hookBody struct {
	Result engine.Result   `json:"result"`
	Extra  json.RawMessage `json:"extra"`
	Raw    string          `json:"-"`
}

func startHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var b hookBody
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Errorf("webhook body is not JSON: %v", err)
		}
		b.Raw = string(raw)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.URL = srv.URL
	return h
}

func (h *hookReceiver) received() []hookBody {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookBody(nil), h.bodies...)
}

// extras returns the extra member of each body received, in order.
func (h *hookReceiver) extras() []string {
	var out []string
	for _, b := range h.received() {
		out = append(out, string(b.Extra))
	}
	return out
}
