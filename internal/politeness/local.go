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
	// credit is RCPT tokens taken by sessions that ended before sending
	// them, spent before the bucket's; the two never hold more than Burst.
	credit int
	// notBefore is when the host lets us back after deferring a domain.
	notBefore time.Time
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

// Acquire waits until mxHost lets us back (see Defer), for a session slot
// at it, then for rcpts RCPT tokens, holding the slot meanwhile: tokens
// taken before the slot could be spent late, in what the server sees as
// another minute. A session of more RCPTs than Burst waits for them in
// Burst-sized instalments. release gives back the tokens of RCPTs the
// session did not send.
func (l *Local) Acquire(ctx context.Context, mxHost string, rcpts int) (release func(sent int), err error) {
	key := hostKey(mxHost)
	h := l.enter(key)
	if err := l.waitDeferral(ctx, h, key); err != nil {
		l.leave(h)
		return nil, err
	}
	if h.sem != nil {
		if err := h.sem.Acquire(ctx, 1); err != nil {
			l.leave(h)
			return nil, fmt.Errorf("politeness: wait for a session slot at %s: %w", key, err)
		}
	}
	booked, err := l.take(ctx, h, key, rcpts)
	if err != nil {
		l.free(h)
		return nil, fmt.Errorf("politeness: wait for RCPT budget at %s: %w", key, err)
	}
	var once sync.Once
	return func(sent int) {
		once.Do(func() {
			l.refund(h, min(booked, rcpts-sent))
			l.free(h)
		})
	}, nil
}

// Defer holds back every session to mxHost until until: the host deferred
// a domain (421, 452 4.5.3, a 4xx to MAIL FROM) and asked us to slow down.
func (l *Local) Defer(mxHost string, until time.Time) {
	h := l.enter(hostKey(mxHost))
	l.mu.Lock()
	if until.After(h.notBefore) {
		h.notBefore = until
	}
	l.mu.Unlock()
	l.leave(h)
}

// waitDeferral waits until h lets us back. When ctx's deadline comes
// first it fails at once: waiting in vain would hold the caller.
func (l *Local) waitDeferral(ctx context.Context, h *hostState, key string) error {
	for {
		l.mu.Lock()
		until := h.notBefore
		l.mu.Unlock()
		now := l.clock.Now()
		if !until.After(now) {
			return nil
		}
		if dl, ok := ctx.Deadline(); ok && dl.Before(until) {
			return &DeferredError{Host: key, Until: until}
		}
		if err := l.clock.Sleep(ctx, until.Sub(now)); err != nil {
			return fmt.Errorf("politeness: wait for %s to let us back: %w", key, err)
		}
	}
}

// refund gives back n RCPT tokens of a session that did not send them.
func (l *Local) refund(h *hostState, n int) {
	if h.lim == nil || n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	room := l.burst - max(0, int(h.lim.TokensAt(l.clock.Now()))) - h.credit
	h.credit += min(n, max(0, room))
}

// spendCredit takes up to n tokens from h's credit and returns how many.
func (l *Local) spendCredit(h *hostState, n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := min(h.credit, n)
	h.credit -= c
	return c
}

// take waits until n RCPT tokens are granted, and returns how many it took
// from the bucket (the rest came from credits). With a Deferral in ctx, a
// wait longer than its MaxWait postpones the session instead: the tokens
// stay taken, as the Deferral's credit.
func (l *Local) take(ctx context.Context, h *hostState, key string, n int) (int, error) {
	if h.lim == nil {
		return 0, nil
	}
	now := l.clock.Now()
	n -= l.spendCredit(h, n)
	if d := deferralFrom(ctx); d != nil && n > 0 {
		n -= d.spend(key, n, now)
	}
	var rs []*rate.Reservation
	var wait time.Duration
	for left := n; left > 0; {
		k := min(left, l.burst)
		r := h.lim.ReserveN(now, k)
		if !r.OK() {
			cancelAll(rs, now)
			return 0, fmt.Errorf("%d tokens exceed the burst of %d", k, l.burst)
		}
		rs = append(rs, r)
		wait = max(wait, r.DelayFrom(now))
		left -= k
	}
	if n == 0 {
		return 0, nil
	}
	if err := postpone(ctx, key, n, now.Add(wait), now); err != nil {
		return 0, err
	}
	if wait > 0 {
		if err := l.clock.Sleep(ctx, wait); err != nil {
			cancelAll(rs, l.clock.Now())
			return 0, err
		}
	}
	return n, nil
}

func cancelAll(rs []*rate.Reservation, at time.Time) {
	for i := len(rs) - 1; i >= 0; i-- {
		rs[i].CancelAt(at)
	}
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
		if h.refs == 0 && !h.notBefore.After(now) && (h.lim == nil || h.lim.TokensAt(now) >= float64(l.burst)) {
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
