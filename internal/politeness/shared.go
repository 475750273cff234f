package politeness

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultWindow is the period RcptsPerMinute is counted over: a minute.
const DefaultWindow = time.Minute

// Scheduler books time on a resource shared by every process, e.g. a
// DynamoDB item holding the end of the last booking (GCRA's "theoretical
// arrival time"), moved with conditional updates.
type Scheduler interface {
	// Reserve books cost of key's time and returns when the booking
	// starts: at now, or when the last booking ends if that is later.
	// expires says when the key is no longer needed.
	Reserve(ctx context.Context, key string, cost time.Duration, now, expires time.Time) (time.Time, error)
	// Unreserve gives back the last back of a booking that ends at end,
	// unless a later booking was made since (then it does nothing).
	Unreserve(ctx context.Context, key string, end time.Time, back time.Duration) error
}

// SharedConfig configures a Shared limiter.
type SharedConfig struct {
	// Scheduler books the RCPT budgets; required.
	Scheduler Scheduler
	// RcptsPerMinute is the RCPT rate per MX host across every process;
	// 0 means DefaultRcptsPerMinute, Unlimited none.
	RcptsPerMinute int
	// SessionsPerHost caps concurrent sessions per MX host in this
	// process; 0 means DefaultSessionsPerHost, Unlimited none.
	SessionsPerHost int
	// MaxHosts bounds the hosts the session cap remembers.
	MaxHosts int
	// KeyPrefix starts every key; default "politeness#".
	KeyPrefix string
	// Window is the period RcptsPerMinute counts, DefaultWindow when zero.
	// Only compressed-time measurements (make cost) shorten it.
	Window time.Duration
	// Clock is SystemClock when nil.
	Clock Clock
}

// Shared is a Limiter for many processes, such as concurrent Lambda
// invocations. Each MX host's RCPTs are booked in a Scheduler: a session
// of n RCPTs books n×(minute/RcptsPerMinute) of the host's time, starting
// when the previous booking ends (or now), and waits until its booking
// starts. Sessions of all processes are thus spaced so that the host sees
// RcptsPerMinute on average, and any minute at most RcptsPerMinute plus
// the RCPTs of one session. Each session costs one conditional update.
//
// A caller with a Deferral in its context does not wait longer than its
// MaxWait: its booking stands, and Acquire fails with a *PostponedError
// saying when it starts (see Deferral).
//
// The session cap is a Local one per process, so cross-process session
// concurrency per MX host is bounded by the number of processes times
// SessionsPerHost: for the SQS worker, the event source mapping's
// MaximumConcurrency times SessionsPerHost. A Scheduler failure fails
// Acquire: the limit is never skipped.
type Shared struct {
	sched    Scheduler
	limit    int           // 0: no RCPT limit
	interval time.Duration // the host time one RCPT books
	prefix   string
	clock    Clock
	sessions *Local
}

// NewShared returns a Shared limiter.
func NewShared(cfg SharedConfig) (*Shared, error) {
	if cfg.Scheduler == nil {
		return nil, errors.New("politeness: a shared limiter needs a scheduler")
	}
	s := &Shared{
		sched:  cfg.Scheduler,
		limit:  limit(cfg.RcptsPerMinute, DefaultRcptsPerMinute),
		prefix: cfg.KeyPrefix,
		clock:  cfg.Clock,
		sessions: NewLocal(LocalConfig{SessionsPerHost: cfg.SessionsPerHost, RcptsPerMinute: Unlimited,
			MaxHosts: cfg.MaxHosts, Clock: cfg.Clock}),
	}
	if s.prefix == "" {
		s.prefix = "politeness#"
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	window := cfg.Window
	if window <= 0 {
		window = DefaultWindow
	}
	if s.limit > 0 {
		s.interval = window / time.Duration(s.limit)
	}
	return s, nil
}

// refundTimeout bounds giving back unsent RCPTs.
const refundTimeout = 2 * time.Second

// Acquire waits for a session slot in this process, then books rcpts
// RCPTs of the host's time across all processes and waits until the
// booking starts (or spends credits of ctx's Deferral, or postpones the
// session). release gives back the RCPTs the session did not send, when
// no later booking was made meanwhile.
func (s *Shared) Acquire(ctx context.Context, mxHost string, rcpts int) (release func(sent int), err error) {
	free, err := s.sessions.Acquire(ctx, mxHost, 0)
	if err != nil {
		return nil, err
	}
	if s.limit == 0 || rcpts <= 0 {
		return free, nil
	}
	host := hostKey(mxHost)
	now := s.clock.Now()
	n := rcpts
	if d := deferralFrom(ctx); d != nil {
		n -= d.spend(host, rcpts, now)
	}
	if n == 0 {
		return free, nil
	}
	key := s.prefix + host
	cost := time.Duration(n) * s.interval
	start, err := s.sched.Reserve(ctx, key, cost, now, now.Add(cost+DefaultWindow))
	if err != nil {
		free(0)
		return nil, fmt.Errorf("politeness: book RCPTs at %s: %w", host, err)
	}
	end := start.Add(cost)
	if err := postpone(ctx, host, n, start, now); err != nil {
		free(0)
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(start) {
		s.unreserve(key, end, cost)
		free(0)
		return nil, &DeferredError{Host: host, Until: start, Booked: true}
	}
	if wait := start.Sub(now); wait > 0 {
		if err := s.clock.Sleep(ctx, wait); err != nil {
			s.unreserve(key, end, cost)
			free(0)
			return nil, fmt.Errorf("politeness: wait for the RCPT budget at %s: %w", host, err)
		}
	}
	return func(sent int) {
		if unsent := n - max(0, sent-(rcpts-n)); unsent > 0 {
			s.unreserve(key, end, time.Duration(unsent)*s.interval)
		}
		free(0)
	}, nil
}

// Defer holds back this process's sessions to mxHost until until (see
// Local.Defer). Other processes learn of the deferral from the host.
func (s *Shared) Defer(mxHost string, until time.Time) { s.sessions.Defer(mxHost, until) }

// unreserve gives back the last back of a booking ending at end. Best
// effort: a lost refund only makes the host's budget stricter.
func (s *Shared) unreserve(key string, end time.Time, back time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), refundTimeout)
	defer cancel()
	_ = s.sched.Unreserve(ctx, key, end, back)
}
