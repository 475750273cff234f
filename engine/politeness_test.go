package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/retry"
	"github.com/mailprobe/mailprobe/internal/politeness"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// countingLimiter wraps a Limiter and adds up the RCPTs announced to it.
type countingLimiter struct {
	engine.Limiter
	rcpts, sessions atomic.Int64
}

func (c *countingLimiter) Acquire(ctx context.Context, host string, n int) (func(int), error) {
	c.rcpts.Add(int64(n))
	c.sessions.Add(1)
	return c.Limiter.Acquire(ctx, host, n)
}

// virtualClock is a politeness.Clock whose Sleep returns at once and
// moves Now forward: a rate limit shows as time slept, not waited.
type virtualClock struct {
	mu    sync.Mutex
	start time.Time
	slept time.Duration
}

func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		c.start = time.Now()
	}
	return c.start.Add(c.slept)
}

func (c *virtualClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.slept += d
	return ctx.Err()
}

// TestLimiterCapsSessions runs 50 Verify and VerifyBatch calls at once
// against one server: it must never see more sessions than the cap.
func TestLimiterCapsSessions(t *testing.T) {
	shared, err := politeness.NewShared(politeness.SharedConfig{Scheduler: politeness.NewMemoryScheduler(nil),
		SessionsPerHost: 2, RcptsPerMinute: 100000})
	if err != nil {
		t.Fatal(err)
	}
	limiters := []struct {
		name string
		l    engine.Limiter
	}{
		{"local", politeness.NewLocal(politeness.LocalConfig{SessionsPerHost: 2, RcptsPerMinute: politeness.Unlimited})},
		{"shared", shared},
	}
	for _, tt := range limiters {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			srv := e.mailServer(t, "capped.test", smtptest.Options{Delay: time.Millisecond,
				Users: users("capped.test", "ok0", ok250, "ok1", ok250, "ok2", ok250)})
			v := e.verifier(t, func(c *engine.Config) { c.Limiter = tt.l })
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Go(func() {
					var reqs []engine.Request
					for k := range 1 + (i%2)*3 { // Verify: 1 address; VerifyBatch: 4
						reqs = append(reqs, engine.Request{ToEmail: fmt.Sprintf("ok%d@capped.test", k), SMTPPort: srv.Port()})
					}
					var (
						got []engine.Result
						err error
					)
					if len(reqs) == 1 {
						var r engine.Result
						r, err = v.Verify(context.Background(), reqs[0])
						got = []engine.Result{r}
					} else {
						got, err = v.VerifyBatch(context.Background(), reqs)
					}
					if err != nil {
						t.Error(err)
					}
					for k, r := range got {
						if want := map[bool]engine.Reachability{true: engine.Safe, false: engine.Invalid}[k < 3]; r.IsReachable != want {
							t.Errorf("%s: %s, want %s (%+v)", r.Input, r.IsReachable, want, r.SMTP.Err)
						}
					}
				})
			}
			wg.Wait()
			if got := srv.MaxConcurrentSessions(); got > 2 || got < 1 {
				t.Errorf("the server saw %d sessions at once, want 1..2 (%d sessions in all)", got, srv.Sessions())
			}
		})
	}
}

// TestLimiterRcptsPerMinute checks that the limiter is told of every RCPT
// the server sees, and that a per-minute limit makes the engine wait.
func TestLimiterRcptsPerMinute(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "paced.test", smtptest.Options{Pipelining: true,
		Users: users("paced.test", "a", ok250, "b", ok250, "c", ok250)})
	clock := &virtualClock{}
	lim := &countingLimiter{Limiter: politeness.NewLocal(politeness.LocalConfig{RcptsPerMinute: 60, Burst: 5, Clock: clock})}
	v := e.verifier(t, func(c *engine.Config) { c.Limiter, c.MaxRecipientsPerSession = lim, 4 })
	var reqs []engine.Request
	for _, m := range emails("paced.test", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n") {
		reqs = append(reqs, engine.Request{ToEmail: m, SMTPPort: srv.Port()})
	}
	if _, err := v.VerifyBatch(context.Background(), reqs); err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs[:3] {
		if _, err := v.Verify(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if sent, told := int64(srv.Rcpts()), lim.rcpts.Load(); told < sent {
		t.Errorf("the limiter was told of %d RCPTs, the server got %d", told, sent)
	}
	// 60 a minute is one a second: everything past the burst of 5 waits.
	if want := time.Duration(srv.Rcpts()-5) * time.Second; clock.slept < want {
		t.Errorf("waited %v for %d RCPTs, want at least %v", clock.slept, srv.Rcpts(), want)
	}
	if s := lim.sessions.Load(); s != int64(srv.Sessions()) {
		t.Errorf("%d sessions asked the limiter, the server saw %d", s, srv.Sessions())
	}
}

type refusingLimiter struct{}

var errLimiterDown = errors.New("limiter store unavailable")

func (refusingLimiter) Acquire(context.Context, string, int) (func(int), error) {
	return nil, errLimiterDown
}

func TestLimiterFailureIsRetryable(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "nolimit.test", smtptest.Options{CatchAll: true})
	v := e.verifier(t, func(c *engine.Config) { c.Limiter = refusingLimiter{} })
	r := verify(t, v, "x@nolimit.test", srv.Port())
	if errType(r.SMTP) != engine.ErrTypeIO+"/"+string(engine.CauseConnection) || r.Retry == nil || r.IsReachable != engine.Unknown {
		t.Errorf("got %s %+v retry %v, want unknown IOError with a retry hint", r.IsReachable, r.SMTP.Err, r.Retry)
	}
	if srv.Sessions() != 0 {
		t.Errorf("%d sessions opened without the limiter's leave", srv.Sessions())
	}
}

// TestLimiterPostpones runs a batch bigger than the politeness budget with
// a Deferral: the sessions the budget allows now are asked, the others are
// not asked at all and come back with a Postponed retry hint saying when
// their booked budget starts, and their bookings are the Deferral's
// credits.
func TestLimiterPostpones(t *testing.T) {
	e := newEnv(t)
	var names []string
	for i := range 30 {
		names = append(names, fmt.Sprintf("u%d", i), ok250)
	}
	srv := e.mailServer(t, "busy.test", smtptest.Options{Pipelining: true, Users: users("busy.test", names...)})
	clock := &virtualClock{}
	lim, err := politeness.NewShared(politeness.SharedConfig{Scheduler: politeness.NewMemoryScheduler(clock),
		RcptsPerMinute: 60, SessionsPerHost: 1, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	v := e.verifier(t, func(c *engine.Config) { c.Limiter, c.MaxRecipientsPerSession, c.SessionsPerDomain = lim, 10, 1 })
	var reqs []engine.Request
	for i := range 30 {
		reqs = append(reqs, engine.Request{ToEmail: fmt.Sprintf("u%d@busy.test", i), SMTPPort: srv.Port()})
	}
	d := politeness.NewDeferral(5*time.Second, nil)
	got, err := v.VerifyBatch(politeness.WithDeferral(context.Background(), d), reqs)
	if err != nil {
		t.Fatal(err)
	}
	asked, postponed := 0, map[time.Duration]int{}
	for _, r := range got {
		switch {
		case r.Retry == nil && r.IsReachable == engine.Safe:
			asked++
		case r.Retry != nil && r.Retry.Kind == retry.Postponed && r.Retry.Stated:
			postponed[r.Retry.After.Round(time.Second)]++
		default:
			t.Errorf("%s: %s, retry %+v", r.Input, r.IsReachable, r.Retry)
		}
	}
	// One session of 10 and the catch-all probe books 11 s, the next
	// sessions of 10 are booked 11 and 21 s from now.
	if want := map[time.Duration]int{11 * time.Second: 10, 21 * time.Second: 10}; asked != 10 || fmt.Sprint(postponed) != fmt.Sprint(want) {
		t.Errorf("asked %d, postponed %v; want 10 asked, %v", asked, postponed, want)
	}
	if srv.Rcpts() > asked+1 {
		t.Errorf("the server saw %d RCPTs for %d asked addresses", srv.Rcpts(), asked)
	}
	if clock.slept > 5*time.Second {
		t.Errorf("slept %v, more than the Deferral's MaxWait", clock.slept)
	}
	n := 0
	for _, c := range d.Booked() {
		n += c.RCPTs
	}
	if n != 30-asked {
		t.Errorf("credits for %d RCPTs, want one per postponed address (%d)", n, 30-asked)
	}
}
