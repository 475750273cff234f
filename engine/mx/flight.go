package mx

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// flights merges concurrent lookups of one name into one. Without it, a
// popular domain checked by many requests at once (a bulk list full of
// gmail.com addresses) would send one identical query per request while the
// cache is still empty, and a slow or failing resolver would be hit hardest.
//
// The shared lookup runs under a context detached from the callers': one
// caller giving up must not fail the others waiting on the same lookup. The
// lookup is cancelled once every caller waiting for it has given up, which
// singleflight alone cannot tell, hence the waiter counts.
type flights struct {
	group singleflight.Group

	mu      sync.Mutex
	waiting map[string]*flight
}

// flight is the context of the lookups started for one key, and how many
// callers wait on them.
type flight struct {
	ctx     context.Context
	cancel  context.CancelFunc
	waiters int
}

// join registers a caller waiting for key.
func (f *flights) join(ctx context.Context, key string) *flight {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.waiting == nil {
		f.waiting = make(map[string]*flight)
	}
	fl := f.waiting[key]
	if fl == nil {
		c, cancel := context.WithCancel(context.WithoutCancel(ctx))
		fl = &flight{ctx: c, cancel: cancel}
		f.waiting[key] = fl
	}
	fl.waiters++
	return fl
}

// leave unregisters a caller. When the last one leaves, the flight's context
// is released; if that caller gave up, its lookup may still be running, so it
// is cancelled and forgotten, and the next caller starts afresh.
func (f *flights) leave(key string, fl *flight, gaveUp bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl.waiters--
	if fl.waiters > 0 {
		return
	}
	fl.cancel()
	if f.waiting[key] == fl {
		delete(f.waiting, key)
	}
	if gaveUp {
		f.group.Forget(key)
	}
}

// resolved is a lookup's value and how long it may still be cached (0:
// not at all).
type resolved struct {
	val value
	ttl time.Duration
}

// lookup returns key's cached value, or runs resolve once for all concurrent
// callers asking for the same key and caches its result. It also says how
// long the value holds, for a lookup built on another (an implicit MX on
// the domain's addresses). A caller whose ctx ends returns at once with a
// *ResolveError.
func (r *Resolver) lookup(ctx context.Context, key cacheKey, resolve func(*Resolver, context.Context, string) (value, time.Duration)) (value, time.Duration) {
	if v, ttl, ok := r.cache.get(key, r.now()); ok {
		return v, ttl
	}
	if err := ctx.Err(); err != nil {
		return value{err: &ResolveError{Domain: key.name + ".", Rcode: -1, Err: err}}, 0
	}
	flightKey := key.kind.String() + " " + key.name
	fl := r.flights.join(ctx, flightKey)
	ch := r.flights.group.DoChan(flightKey, func() (any, error) {
		// A flight that ended just before this one began may have filled
		// the cache.
		if v, ttl, ok := r.cache.get(key, r.now()); ok {
			return resolved{v, ttl}, nil
		}
		v, ttl := resolve(r, fl.ctx, key.name)
		r.cache.put(key, v, ttl, r.now())
		return resolved{v, ttl}, nil
	})
	select {
	case res := <-ch:
		r.flights.leave(flightKey, fl, false)
		rv := res.Val.(resolved)
		return rv.val, rv.ttl
	case <-ctx.Done():
		r.flights.leave(flightKey, fl, true)
		return value{err: &ResolveError{Domain: key.name + ".", Rcode: -1, Err: ctx.Err()}}, 0
	}
}
