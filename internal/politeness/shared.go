package politeness

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// window is the length of Shared's fixed RCPT windows.
const window = time.Minute

// Counter is a counter shared by every process, e.g. a DynamoDB item
// updated with "ADD n" and ReturnValues UPDATED_NEW, which is atomic.
type Counter interface {
	// IncrBy adds n (which may be negative) to the counter at key,
	// creating it at 0, and returns the new total. expires says when the
	// key is no longer needed (a TTL attribute; readers need not check it,
	// since a window's key is never reused).
	IncrBy(ctx context.Context, key string, n int64, expires time.Time) (int64, error)
}

// SharedConfig configures a Shared limiter.
type SharedConfig struct {
	// Counter holds the RCPT counts; required.
	Counter Counter
	// RcptsPerMinute is the RCPT limit per MX host and UTC minute across
	// every process; 0 means DefaultRcptsPerMinute, Unlimited none.
	RcptsPerMinute int
	// SessionsPerHost caps concurrent sessions per MX host in this
	// process; 0 means DefaultSessionsPerHost, Unlimited none.
	SessionsPerHost int
	// MaxHosts bounds the hosts the session cap remembers.
	MaxHosts int
	// KeyPrefix starts every counter key; default "politeness#".
	KeyPrefix string
	// Clock is SystemClock when nil.
	Clock Clock
}

// Shared is a Limiter for many processes, such as concurrent Lambda
// invocations: the RCPT rate per MX host is a fixed one-minute window
// counted in a Counter, and the session cap is a Local one per process.
//
// Cross-process session concurrency per MX host is therefore bounded by
// the number of processes times SessionsPerHost: for the SQS worker, the
// event source mapping's MaximumConcurrency times SessionsPerHost. Set
// MaximumConcurrency with that product in mind.
//
// A fixed window lets up to twice the limit through in a minute that
// straddles two windows; in exchange each session costs one atomic update.
// When a window is full, Acquire gives its count back (so smaller sessions
// still fit) and waits for the next window, for as long as ctx allows.
// A Counter failure fails Acquire: the limit is never skipped.
type Shared struct {
	counter  Counter
	limit    int64 // 0: no RCPT limit
	prefix   string
	clock    Clock
	sessions *Local
}

// NewShared returns a Shared limiter.
func NewShared(cfg SharedConfig) (*Shared, error) {
	if cfg.Counter == nil {
		return nil, errors.New("politeness: a shared limiter needs a counter")
	}
	s := &Shared{
		counter: cfg.Counter,
		limit:   int64(limit(cfg.RcptsPerMinute, DefaultRcptsPerMinute)),
		prefix:  cfg.KeyPrefix,
		clock:   cfg.Clock,
		sessions: NewLocal(LocalConfig{SessionsPerHost: cfg.SessionsPerHost, RcptsPerMinute: Unlimited,
			MaxHosts: cfg.MaxHosts, Clock: cfg.Clock}),
	}
	if s.prefix == "" {
		s.prefix = "politeness#"
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	return s, nil
}

// refundTimeout bounds giving back unsent RCPTs to the shared counter.
const refundTimeout = 2 * time.Second

// Acquire waits for a session slot in this process, then for room for
// rcpts RCPTs in the current window across all processes. A session of
// more RCPTs than the limit takes them from successive windows. release
// gives back, to the windows that counted them, the RCPTs the session did
// not send.
func (s *Shared) Acquire(ctx context.Context, mxHost string, rcpts int) (release func(sent int), err error) {
	free, err := s.sessions.Acquire(ctx, mxHost, 0)
	if err != nil {
		return nil, err
	}
	charged, err := s.take(ctx, hostKey(mxHost), int64(rcpts))
	if err != nil {
		free(0)
		return nil, err
	}
	return func(sent int) {
		s.refund(charged, int64(rcpts-sent))
		free(0)
	}, nil
}

// Defer holds back this process's sessions to mxHost until until (see
// Local.Defer). Other processes learn of the deferral from the host.
func (s *Shared) Defer(mxHost string, until time.Time) { s.sessions.Defer(mxHost, until) }

// charge is RCPTs counted in one window.
type charge struct {
	key     string
	n       int64
	expires time.Time
}

// refund takes n RCPTs back from the windows charged, the latest first.
// Best effort: a lost refund only makes a window stricter.
func (s *Shared) refund(charged []charge, n int64) {
	if n <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), refundTimeout)
	defer cancel()
	for i := len(charged) - 1; i >= 0 && n > 0; i-- {
		k := min(n, charged[i].n)
		_, _ = s.counter.IncrBy(ctx, charged[i].key, -k, charged[i].expires)
		n -= k
	}
}

func (s *Shared) take(ctx context.Context, host string, n int64) ([]charge, error) {
	var charged []charge
	for s.limit > 0 && n > 0 {
		k := min(n, s.limit)
		now := s.clock.Now()
		start := now.Truncate(window)
		end := start.Add(window)
		key := s.prefix + host + "#" + strconv.FormatInt(start.Unix(), 10)
		total, err := s.counter.IncrBy(ctx, key, k, end.Add(window))
		if err != nil {
			s.refund(charged, sum(charged))
			return nil, fmt.Errorf("politeness: count RCPTs at %s: %w", host, err)
		}
		if total <= s.limit {
			charged = append(charged, charge{key: key, n: k, expires: end.Add(window)})
			n -= k
			continue
		}
		// Best effort: a lost refund only makes this window stricter.
		_, _ = s.counter.IncrBy(context.WithoutCancel(ctx), key, -k, end.Add(window))
		if err := s.clock.Sleep(ctx, end.Sub(now)); err != nil {
			s.refund(charged, sum(charged))
			return nil, fmt.Errorf("politeness: wait for the next RCPT window at %s: %w", host, err)
		}
	}
	return charged, nil
}

func sum(cs []charge) int64 {
	var n int64
	for _, c := range cs {
		n += c.n
	}
	return n
}
