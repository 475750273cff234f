package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// gate is a fake HIBP and Gravatar (and, through gatedResolver, an MX
// lookup) that holds every call until want calls are inside at once (or
// the test's ctx ends), so a batch that asked one address at a time, or a
// Verify that made one call after the other, would stall instead of
// passing.
type gate struct {
	want int
	mu   sync.Mutex
	in   int
	peak int
	hibp map[string]int
	grav map[string]int
	mx   map[string]int
	open chan struct{}
}

func newGate(want int) *gate {
	return &gate{want: want, hibp: map[string]int{}, grav: map[string]int{}, mx: map[string]int{}, open: make(chan struct{})}
}

// gatedResolver passes its MX lookups through a gate.
type gatedResolver struct {
	engine.Resolver
	g *gate
}

func (r gatedResolver) LookupMX(ctx context.Context, domain string) (mx.Records, error) {
	r.g.enter(ctx, r.g.mx, domain)
	return r.Resolver.LookupMX(ctx, domain)
}

func (g *gate) enter(ctx context.Context, calls map[string]int, email string) {
	g.mu.Lock()
	calls[email]++
	g.in++
	if g.in > g.peak {
		g.peak = g.in
	}
	if g.peak == g.want {
		select {
		case <-g.open:
		default:
			close(g.open)
		}
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-ctx.Done():
	}
	g.mu.Lock()
	g.in--
	g.mu.Unlock()
}

func (g *gate) Breached(ctx context.Context, email string) (bool, error) {
	g.enter(ctx, g.hibp, email)
	return email == "u1@look.test", nil
}

func (g *gate) Lookup(ctx context.Context, email string) (string, bool, error) {
	g.enter(ctx, g.grav, email)
	return "https://gravatar.test/" + email, true, nil
}

// TestVerifyMiscLookupsConcurrent checks that Verify runs the enabled
// misc lookups at the same time as each other and as the MX lookup: the
// gate opens only when all of them are in flight at once.
func TestVerifyMiscLookupsConcurrent(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "along.test", smtptest.Options{CatchAll: true})
	tests := []struct {
		name     string
		hibp     bool
		gravatar bool // check_gravatar on the request
		peak     int  // calls in flight at once: the lookups and LookupMX
	}{
		{"both", true, true, 3},
		{"hibp only", true, false, 2},
		{"gravatar only", false, true, 2},
		{"none", false, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate(tt.peak)
			v := e.verifier(t, func(c *engine.Config) {
				c.Resolver = gatedResolver{Resolver: c.Resolver, g: g}
				c.Gravatar = g
				if tt.hibp {
					c.HIBP = g
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			r, err := v.Verify(ctx, engine.Request{ToEmail: "u1@along.test", SMTPPort: srv.Port(), CheckGravatar: tt.gravatar})
			if err != nil {
				t.Fatal(err)
			}
			if g.peak != tt.peak {
				t.Errorf("%d calls in flight at most, want %d", g.peak, tt.peak)
			}
			if len(g.hibp) != map[bool]int{true: 1}[tt.hibp] || len(g.grav) != map[bool]int{true: 1}[tt.gravatar] {
				t.Errorf("%d HIBP and %d Gravatar lookups, want hibp %v, gravatar %v", len(g.hibp), len(g.grav), tt.hibp, tt.gravatar)
			}
			m := r.Misc.Value
			if (m.HaveIBeenPwned != nil) != tt.hibp || (m.GravatarURL != nil) != tt.gravatar {
				t.Errorf("haveibeenpwned %v gravatar_url %v", m.HaveIBeenPwned, m.GravatarURL)
			}
			if r.IsReachable != engine.Risky {
				t.Errorf("%s, want risky (catch-all)", r.IsReachable)
			}
		})
	}
}

func TestVerifyBatchMiscLookups(t *testing.T) {
	e := newEnv(t)
	srv := e.mailServer(t, "look.test", smtptest.Options{CatchAll: true})
	const n = 20
	tests := []struct {
		name     string
		hibp     bool
		gravatar bool // check_gravatar on the requests
		peak     int  // lookups in flight at once, at most 8
	}{
		{"hibp only", true, false, 8},
		{"gravatar only", false, true, 8},
		{"both", true, true, 8},
		{"none", false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate(tt.peak)
			v := e.verifier(t, func(c *engine.Config) {
				c.Gravatar = g
				if tt.hibp {
					c.HIBP = g
				}
			})
			var reqs []engine.Request
			for i := range n {
				reqs = append(reqs, engine.Request{ToEmail: fmt.Sprintf("u%d@look.test", i%(n/2)), SMTPPort: srv.Port(), CheckGravatar: tt.gravatar})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			got, err := v.VerifyBatch(ctx, reqs)
			if err != nil {
				t.Fatal(err)
			}
			if g.peak != tt.peak {
				t.Errorf("%d lookups in flight at most, want %d", g.peak, tt.peak)
			}
			for _, calls := range []map[string]int{g.hibp, g.grav} {
				for email, k := range calls {
					if k != 1 {
						t.Errorf("%s looked up %d times, want once", email, k)
					}
				}
			}
			if want := map[bool]int{true: n / 2}; len(g.hibp) != want[tt.hibp] || len(g.grav) != want[tt.gravatar] {
				t.Errorf("%d HIBP and %d Gravatar lookups, want %d and %d", len(g.hibp), len(g.grav), want[tt.hibp], want[tt.gravatar])
			}
			for _, r := range got {
				m := r.Misc.Value
				if (m.HaveIBeenPwned != nil) != tt.hibp || (m.GravatarURL != nil) != tt.gravatar {
					t.Errorf("%s: haveibeenpwned %v gravatar_url %v", r.Input, m.HaveIBeenPwned, m.GravatarURL)
				}
				if tt.hibp && *m.HaveIBeenPwned != (r.Input == "u1@look.test") {
					t.Errorf("%s: haveibeenpwned = %v", r.Input, *m.HaveIBeenPwned)
				}
				if r.IsReachable != engine.Risky {
					t.Errorf("%s: %s, want risky (catch-all)", r.Input, r.IsReachable)
				}
			}
		})
	}
}
