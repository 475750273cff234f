package api

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/throttle"
)

func TestThrottle(t *testing.T) {
	hs := newHarness(t, func(c *Config, _ *Deps) {
		c.Throttle = throttle.DefaultLimits() // 60 per minute, 10 000 per day
	})
	// 47.7 s into a minute: the 61st request must wait 12.3 s.
	hs.clock.Set(testEpoch.Add(47700 * time.Millisecond))
	check := `{"to_email":"a@example.com","skip_cache":true}`
	for i := range 60 {
		if r := hs.do(t, "POST", "/v1/check_email", check, nil); r.status != 200 {
			t.Fatalf("request %d: %d %s", i+1, r.status, r.body)
		}
	}
	r := hs.do(t, "POST", "/v1/check_email", check, nil)
	if r.status != 429 || r.errorText(t) != "Rate limit per minute exceeded, please wait 12.3s" || r.header.Get("Retry-After") != "13" {
		t.Fatalf("61st request: %d %s Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	if r := hs.do(t, "POST", "/v1/bulk", `{"input":["a@b.c"]}`, nil); r.status != 429 {
		t.Errorf("bulk creation shares the limit: %d", r.status)
	}
	for _, target := range []string{"/v1/bulk/1001", "/healthz", "/version"} {
		if r := hs.do(t, "GET", target, "", nil); r.status == 429 {
			t.Errorf("GET %s is throttled", target)
		}
	}
	if n := hs.checker.calls.Load(); n != 60 {
		t.Errorf("engine ran %d times, want 60", n)
	}
	hs.clock.Set(testEpoch.Add(time.Minute))
	if r := hs.do(t, "POST", "/v1/check_email", check, nil); r.status != 200 {
		t.Fatalf("first request of the next minute: %d %s", r.status, r.body)
	}
}

func TestThrottleSharedCounter(t *testing.T) {
	// Two instances (two Lambda containers) share one counter.
	counter := throttle.NewMemory(func() time.Time { return testEpoch })
	var hs [2]*harness
	for i := range hs {
		hs[i] = newHarness(t, func(c *Config, d *Deps) {
			c.Throttle = throttle.Limits{PerSecond: 3}
			d.Counter = counter
			d.Now = func() time.Time { return testEpoch }
		})
	}
	statuses := ""
	for i := range 4 {
		r := hs[i%2].do(t, "POST", "/v1/check_email", `{"to_email":"a@example.com"}`, nil)
		statuses += strconv.Itoa(r.status) + " "
	}
	if statuses != "200 200 200 429 " {
		t.Errorf("statuses %s", statuses)
	}
}

type failingCounter struct{}

func (failingCounter) Incr(context.Context, string, time.Time) (int64, error) {
	return 0, errors.New("dynamodb: throttled")
}

func TestThrottleFailsOpen(t *testing.T) {
	hs := newHarness(t, func(c *Config, d *Deps) {
		c.Throttle = throttle.Limits{PerMinute: 1}
		d.Counter = failingCounter{}
	})
	for range 3 {
		if r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"a@example.com"}`, nil); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
}
