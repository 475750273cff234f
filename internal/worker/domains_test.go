package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/sqslambda"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/webhook"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// meetingVerifier holds every verification until verifications of want
// distinct domains are running at once, which proves that they can. It
// records the most verifications of one domain at once and the domains of
// each VerifyBatch call. If the meeting never happens it gives up after
// waitLimit (a failure), and from then on nobody waits.
type meetingVerifier struct {
	want      int
	met       chan struct{}
	mu        sync.Mutex
	running   map[string]int
	topDomain int
	batches   [][]string
	gaveUp    bool
}

func newMeetingVerifier(want int) *meetingVerifier {
	return &meetingVerifier{want: want, met: make(chan struct{}), running: make(map[string]int)}
}

func (m *meetingVerifier) Verify(ctx context.Context, req engine.Request) (engine.Result, error) {
	d := []string{queue.Domain(req.ToEmail)}
	if err := m.meet(ctx, d); err != nil {
		return engine.Result{}, err
	}
	return engine.Result{Input: req.ToEmail, IsReachable: engine.Safe}, nil
}

func (m *meetingVerifier) VerifyBatch(ctx context.Context, reqs []engine.Request) ([]engine.Result, error) {
	var domains []string
	for _, r := range reqs {
		if d := queue.Domain(r.ToEmail); !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	m.mu.Lock()
	m.batches = append(m.batches, domains)
	m.mu.Unlock()
	if err := m.meet(ctx, domains); err != nil {
		return nil, err // not an *engine.IncompleteError: the whole batch is unfinished
	}
	res := make([]engine.Result, len(reqs))
	for i, r := range reqs {
		res[i] = engine.Result{Input: r.ToEmail, IsReachable: engine.Safe}
	}
	return res, nil
}

func (m *meetingVerifier) meet(ctx context.Context, domains []string) error {
	m.mu.Lock()
	for _, d := range domains {
		m.running[d]++
		m.topDomain = max(m.topDomain, m.running[d])
	}
	select {
	case <-m.met:
	default:
		if len(m.running) >= m.want {
			close(m.met)
		}
	}
	gaveUp := m.gaveUp
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		for _, d := range domains {
			if m.running[d]--; m.running[d] == 0 {
				delete(m.running, d)
			}
		}
		m.mu.Unlock()
	}()
	if gaveUp {
		return errors.New("the domains never ran at once")
	}
	t := time.NewTimer(waitLimit)
	defer t.Stop()
	select {
	case <-m.met:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		m.mu.Lock()
		m.gaveUp = true
		m.mu.Unlock()
		return errors.New("the domains never ran at once")
	}
}

// TestMixedMessageDomainsRunConcurrently: queue.Batch packs small domains
// into one message, and each domain of it takes its own per-domain slot,
// so with PerDomain 1 the domains still run side by side, while each
// domain runs one probe at a time.
func TestMixedMessageDomainsRunConcurrently(t *testing.T) {
	list := []string{"a1@a.test", "a2@a.test", "b1@b.test", "b2@b.test", "c1@c.test", "c2@c.test"}
	tests := []struct {
		name       string
		perAddress bool
	}{
		{"one address per session", true},
		{"shared sessions", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, smtptest.Options{})
			msgs := e.job("job-mixed", list, nil, 100)
			if len(msgs) != 1 {
				t.Fatalf("queue.Batch made %d messages, want one of three domains", len(msgs))
			}
			m := newMeetingVerifier(3)
			w := e.worker(worker.Config{Concurrency: 10, PerDomain: 1, PerAddress: tt.perAddress}, m, nil, nil)
			rep, err := w.Process(context.Background(), msgs[0])
			if err != nil || rep != (worker.Report{Done: len(list)}) {
				t.Fatalf("report %+v, %v; want Done %d", rep, err, len(list))
			}
			e.assertExact("job-mixed", list, store.Summary{Safe: len(list)})
			m.mu.Lock()
			defer m.mu.Unlock()
			if m.gaveUp {
				t.Error("the three domains of the message never ran at once")
			}
			if m.topDomain > 1 {
				t.Errorf("%d probes of one domain at once, limit 1", m.topDomain)
			}
			if !tt.perAddress && (len(m.batches) != 3 || slices.ContainsFunc(m.batches, func(d []string) bool { return len(d) != 1 })) {
				t.Errorf("VerifyBatch calls by domain %v, want one call per domain", m.batches)
			}
		})
	}
}

// TestHandleSQSEndsBeforeDeadline: a webhook receiver that never answers
// must not keep HandleSQS past the Lambda's deadline (its response would be
// lost), and the results are stored before anything is posted.
func TestHandleSQSEndsBeforeDeadline(t *testing.T) {
	tests := []struct {
		name       string
		perAddress bool
		deadline   time.Duration // the handler's 3 s reserve, a 1 s probe budget and, when sharing, the 5 s store margin
	}{
		{"one address per session", true, 6 * time.Second},
		{"shared sessions", false, 11 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, smtptest.Options{Mailbox: okMailbox})
			e.addDomains("one.test")
			var posts atomic.Int32
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				posts.Add(1)
				select { // answer only when the client gives up
				case <-r.Context().Done():
				case <-release:
				}
			}))
			t.Cleanup(srv.Close)
			t.Cleanup(func() { close(release) }) // before srv.Close, which waits for handlers
			list, want := split(3, "one.test")
			msgs := e.job("job-slow-hook", list, nil, 10)
			msgs[0].Webhook = json.RawMessage(`{"on_each_email":{"url":"` + srv.URL + `/hook"}}`)
			w := e.worker(worker.Config{ProbeBudget: time.Second, PerAddress: tt.perAddress}, e.verifier(nil), nil,
				webhook.New(webhook.Options{}))

			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()
			deadline, _ := ctx.Deadline()
			resp, err := handleSQS(w, ctx, sqsEvent(t, msgs...), sqslambda.Config{})
			if now := time.Now(); !now.Before(deadline) {
				t.Errorf("HandleSQS returned %v after the deadline", now.Sub(deadline))
			}
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("HandleSQS = %+v, %v; want the record done", resp, err)
			}
			e.assertExact("job-slow-hook", list, want)
			if posts.Load() == 0 {
				t.Error("the webhook receiver got no post")
			}
			if !strings.Contains(e.logs.String(), "Webhook not delivered") {
				t.Errorf("the unanswered webhook is not logged:\n%s", e.logs.String())
			}
		})
	}
}
