package app

import (
	"context"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine/dialer"
)

type slowLimiter struct {
	wait     time.Duration
	deferred []string
}

func (l *slowLimiter) Acquire(ctx context.Context, mxHost string, rcpts int) (func(int), error) {
	time.Sleep(l.wait)
	return func(int) {}, nil
}

func (l *slowLimiter) Defer(mxHost string, until time.Time) { l.deferred = append(l.deferred, mxHost) }

type heard struct {
	waits map[string]time.Duration
}

func (h *heard) ProxyFailed(dialer.Proxy, *dialer.ProxyError) {}
func (h *heard) IncErrors()                                   {}
func (h *heard) PolitenessWaited(mx string, d time.Duration)  { h.waits[mx] += d }

// TestObservedLimiter checks the wrapper reports each session's wait and
// still passes deferrals on, which the engine finds by type assertion.
func TestObservedLimiter(t *testing.T) {
	inner := &slowLimiter{wait: 30 * time.Millisecond}
	h := &heard{waits: map[string]time.Duration{}}
	l := observeLimiter(inner, h)
	release, err := l.Acquire(context.Background(), "mx.example.com.", 3)
	if err != nil {
		t.Fatal(err)
	}
	release(3)
	if got := h.waits["mx.example.com."]; got < inner.wait {
		t.Errorf("wait reported %v, want at least %v", got, inner.wait)
	}
	d, ok := l.(deferrer)
	if !ok {
		t.Fatal("the wrapped limiter lost Defer")
	}
	d.Defer("mx.example.com.", time.Now().Add(time.Minute))
	if len(inner.deferred) != 1 {
		t.Errorf("deferral not passed on: %v", inner.deferred)
	}
	if observeLimiter(nil, h) != nil || observeLimiter(inner, nil) != inner {
		t.Error("nil limiter or events must not be wrapped")
	}
}
