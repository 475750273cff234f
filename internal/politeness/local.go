package politeness

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"
)

// LocalConfig configures a Local limiter. The zero value is the defaults.
type LocalConfig struct {
	// SessionsPerHost caps concurrent sessions per MX host; 0 means
	// DefaultSessionsPerHost, Unlimited none.
	SessionsPerHost int
	// RcptsPerMinute is the long-run RCPT rate per MX host; 0 means
	// DefaultRcptsPerMinute, Unlimited none.
	RcptsPerMinute int
	// Burst is how many RCPTs may go at once after a quiet spell; 0 means
	// a quarter of RcptsPerMinute (at least 1). A minute can therefore
	// see up to RcptsPerMinute+Burst RCPTs, never more.
	Burst int
	// MaxHosts bounds the hosts remembered; 0 means DefaultMaxHosts.
	MaxHosts int
	// Clock is SystemClock when nil.
	Clock Clock
}

// Local is an in-process Limiter: a semaphore per MX host for sessions and
// a token bucket (golang.org/x/time/rate) per MX host for RCPTs. It is
// safe for concurrent use.
//
// A host's state outlives its sessions, since its bucket must remember
// recent RCPTs. When MaxHosts are remembered, hosts with no session and a
// full bucket are forgotten first (nothing is lost), then the idle ones
// used longest ago (each may then see one extra burst). Hosts with a
// session in progress are never forgotten, so the map can exceed MaxHosts
// only by the number of hosts in use at that moment.
type Local struct {
	sessions int64 // 0: no cap
	perSec   rate.Limit
	burst    int // 0: no RCPT limit
	maxHosts int
	clock    Clock

	mu    sync.Mutex
	hosts map[string]*hostState
}

type hostState struct {
	sem  *semaphore.Weighted // nil without a session cap
	lim  *rate.Limiter       // nil without an RCPT limit
	refs int                 // sessions holding or waiting
	used time.Time
}

// NewLocal returns a Local limiter.
func NewLocal(cfg LocalConfig) *Local {
	l := &Local{
		sessions: int64(limit(cfg.SessionsPerHost, DefaultSessionsPerHost)),
		maxHosts: limit(cfg.MaxHosts, DefaultMaxHosts),
		clock:    cfg.Clock,
		hosts:    make(map[string]*hostState),
	}
	if l.clock == nil {
		l.clock = SystemClock{}
	}
	if perMin := limit(cfg.RcptsPerMinute, DefaultRcptsPerMinute); perMin > 0 {
		l.perSec = rate.Limit(float64(perMin) / 60)
		l.burst = limit(cfg.Burst, max(1, perMin/4))
	}
	return l
}

// Acquire waits for a session slot at mxHost, then for rcpts RCPT tokens,
// holding the slot meanwhile: tokens taken before the slot could be spent
// late, in what the server sees as another minute. A session of more
// RCPTs than Burst waits for them in Burst-sized instalments.
func (l *Local) Acquire(ctx context.Context, mxHost string, rcpts int) (release func(), err error) {
	key := hostKey(mxHost)
	h := l.enter(key)
	if h.sem != nil {
		if err := h.sem.Acquire(ctx, 1); err != nil {
			l.leave(h)
			return nil, fmt.Errorf("politeness: wait for a session slot at %s: %w", key, err)
		}
	}
	if err := l.take(ctx, h, rcpts); err != nil {
		l.free(h)
		return nil, fmt.Errorf("politeness: wait for RCPT budget at %s: %w", key, err)
	}
	var once sync.Once
	return func() { once.Do(func() { l.free(h) }) }, nil
}

// take waits until n RCPT tokens are granted.
func (l *Local) take(ctx context.Context, h *hostState, n int) error {
	for h.lim != nil && n > 0 {
		k := min(n, l.burst)
		now := l.clock.Now()
		r := h.lim.ReserveN(now, k)
		if !r.OK() {
			return fmt.Errorf("%d tokens exceed the burst of %d", k, l.burst)
		}
		if d := r.DelayFrom(now); d > 0 {
			if err := l.clock.Sleep(ctx, d); err != nil {
				r.CancelAt(l.clock.Now())
				return err
			}
		}
		n -= k
	}
	return nil
}

func (l *Local) enter(key string) *hostState {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.hosts[key]
	if h == nil {
		if len(l.hosts) >= l.maxHosts {
			l.evict()
		}
		h = &hostState{}
		if l.sessions > 0 {
			h.sem = semaphore.NewWeighted(l.sessions)
		}
		if l.burst > 0 {
			h.lim = rate.NewLimiter(l.perSec, l.burst)
		}
		l.hosts[key] = h
	}
	h.refs++
	h.used = l.clock.Now()
	return h
}

func (l *Local) free(h *hostState) {
	if h.sem != nil {
		h.sem.Release(1)
	}
	l.leave(h)
}

func (l *Local) leave(h *hostState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h.refs--
	h.used = l.clock.Now()
}

// evict makes room, down to nine tenths of MaxHosts so that the sweep is
// not repeated on every new host. l.mu is held.
func (l *Local) evict() {
	now := l.clock.Now()
	for k, h := range l.hosts {
		if h.refs == 0 && (h.lim == nil || h.lim.TokensAt(now) >= float64(l.burst)) {
			delete(l.hosts, k)
		}
	}
	target := l.maxHosts * 9 / 10
	if len(l.hosts) <= target {
		return
	}
	type idle struct {
		key  string
		used time.Time
	}
	var cands []idle
	for k, h := range l.hosts {
		if h.refs == 0 {
			cands = append(cands, idle{k, h.used})
		}
	}
	slices.SortFunc(cands, func(a, b idle) int { return a.used.Compare(b.used) })
	for _, c := range cands[:min(len(cands), len(l.hosts)-target)] {
		delete(l.hosts, c.key)
	}
}

// Hosts returns how many hosts are remembered.
func (l *Local) Hosts() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hosts)
}
