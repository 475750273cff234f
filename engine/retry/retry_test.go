package retry_test

import (
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine/retry"
)

var t0 = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// step is one check of an address and what the policy must answer.
type step struct {
	o       retry.Outcome
	retry   bool
	retryAt time.Time
}

func TestPolicyDecide(t *testing.T) {
	grey := func(d time.Duration) retry.Outcome { return retry.Outcome{Kind: retry.Greylisted, At: at(d)} }
	conn := func(d time.Duration) retry.Outcome { return retry.Outcome{Kind: retry.Connection, At: at(d)} }
	tests := []struct {
		name   string
		policy retry.Policy
		steps  []step
	}{
		{"final at once", retry.Policy{}, []step{{o: retry.Outcome{Kind: retry.Final, At: t0}}}},
		{"greylisting on the default schedule until the window ends", retry.Policy{}, []step{
			{o: grey(0), retry: true, retryAt: at(time.Minute)},
			{o: grey(time.Minute), retry: true, retryAt: at(6 * time.Minute)},
			{o: grey(6 * time.Minute), retry: true, retryAt: at(21 * time.Minute)},
			{o: grey(21 * time.Minute)}, // 36 min is past the 30 min window
		}},
		{"the server's stated wait wins", retry.Policy{}, []step{
			{o: retry.Outcome{Kind: retry.Greylisted, At: t0, After: 90 * time.Second}, retry: true, retryAt: at(90 * time.Second)},
		}},
		{"a stated wait past the window is final", retry.Policy{}, []step{
			{o: retry.Outcome{Kind: retry.Temporary, At: t0, After: time.Hour}},
		}},
		{"politeness waits do not count against the window", retry.Policy{}, []step{
			{o: grey(0), retry: true, retryAt: at(time.Minute)},
			{o: grey(time.Minute), retry: true, retryAt: at(6 * time.Minute)},
			// This check waited 10 minutes for the per-MX budget.
			{o: retry.Outcome{Kind: retry.Greylisted, At: at(16 * time.Minute), Waited: 10 * time.Minute},
				retry: true, retryAt: at(31 * time.Minute)},
			{o: grey(31 * time.Minute)}, // 46 min is past 30 + 10
		}},
		{"a short schedule and window", retry.Policy{Schedule: []time.Duration{time.Second, 2 * time.Second}, Window: 5 * time.Second}, []step{
			{o: grey(0), retry: true, retryAt: at(time.Second)},
			{o: grey(time.Second), retry: true, retryAt: at(3 * time.Second)},
			{o: grey(3 * time.Second), retry: true, retryAt: at(5 * time.Second)}, // the last step repeats
			{o: grey(5 * time.Second)},
		}},
		{"a connection failure is retried once, at once", retry.Policy{}, []step{
			{o: conn(0), retry: true, retryAt: at(0)},
			{o: conn(5 * time.Second)},
		}},
		{"connection retries configured", retry.Policy{ConnectionRetries: 2, ConnectionDelay: time.Minute}, []step{
			{o: conn(0), retry: true, retryAt: at(time.Minute)},
			{o: conn(time.Minute), retry: true, retryAt: at(2 * time.Minute)},
			{o: conn(2 * time.Minute)},
		}},
		{"no connection retries", retry.Policy{ConnectionRetries: -1}, []step{{o: conn(0)}}},
		{"postponed for politeness: always asked again when booked, the wait not counted", retry.Policy{}, []step{
			{o: retry.Outcome{Kind: retry.Postponed, At: t0, After: time.Hour}, retry: true, retryAt: at(time.Hour)},
			{o: grey(time.Hour), retry: true, retryAt: at(time.Hour + time.Minute)},
			{o: retry.Outcome{Kind: retry.Postponed, At: at(time.Hour + time.Minute), After: 40 * time.Minute},
				retry: true, retryAt: at(time.Hour + 41*time.Minute)},
			// 41 min after the first temporary answer, but 40 of them were
			// a politeness wait: the window is not over.
			{o: grey(time.Hour + 41*time.Minute), retry: true, retryAt: at(time.Hour + 46*time.Minute)},
		}},
		{"greylisting, then a connection failure, then greylisting", retry.Policy{}, []step{
			{o: grey(0), retry: true, retryAt: at(time.Minute)},
			{o: conn(time.Minute), retry: true, retryAt: at(time.Minute)},
			{o: grey(time.Minute), retry: true, retryAt: at(6 * time.Minute)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h retry.History
			for i, s := range tt.steps {
				d := tt.policy.Decide(h, s.o)
				if d.Retry != s.retry || (s.retry && !d.At.Equal(s.retryAt)) {
					t.Fatalf("check %d (%v at %v): retry=%v at %v, want retry=%v at %v",
						i, s.o.Kind, s.o.At.Sub(t0), d.Retry, d.At.Sub(t0), s.retry, s.retryAt.Sub(t0))
				}
				h = d.History
			}
		})
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[retry.Kind]string{retry.Final: "final", retry.Greylisted: "greylisted",
		retry.Temporary: "temporary", retry.Connection: "connection", retry.Kind(9): "Kind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}
