package mx

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// kind tells apart the lookups cached under one name.
type kind uint8

const (
	kindMX kind = iota + 1
	kindIP
)

func (k kind) String() string {
	if k == kindMX {
		return "MX"
	}
	return "IP"
}

type cacheKey struct {
	name string // lower-case, without the trailing dot
	kind kind
}

// value is the result of one lookup, positive or negative.
type value struct {
	records Records
	addrs   []netip.Addr
	err     error
}

type entry struct {
	key     cacheKey
	val     value
	expires time.Time
}

// cache is a size-bounded LRU of lookup results, each kept until its TTL
// runs out. A nil *cache caches nothing.
type cache struct {
	max int

	mu    sync.Mutex
	ll    *list.List // of *entry, most recently used first
	index map[cacheKey]*list.Element
}

func newCache(max int) *cache {
	return &cache{max: max, ll: list.New(), index: make(map[cacheKey]*list.Element)}
}

// get returns the unexpired value cached for key and how long it still
// holds.
func (c *cache) get(key cacheKey, now time.Time) (value, time.Duration, bool) {
	if c == nil {
		return value{}, 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.index[key]
	if !ok {
		return value{}, 0, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.expires) {
		c.ll.Remove(el)
		delete(c.index, key)
		return value{}, 0, false
	}
	c.ll.MoveToFront(el)
	return e.val, e.expires.Sub(now), true
}

// put caches v for ttl, evicting the least recently used entry when full.
// A zero ttl caches nothing: resolver failures and answers without an SOA
// must not be reused (RFC 2308 §5).
func (c *cache) put(key cacheKey, v value, ttl time.Duration, now time.Time) {
	if c == nil || ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.index[key]; ok {
		el.Value = &entry{key: key, val: v, expires: now.Add(ttl)}
		c.ll.MoveToFront(el)
		return
	}
	c.index[key] = c.ll.PushFront(&entry{key: key, val: v, expires: now.Add(ttl)})
	for c.ll.Len() > c.max {
		oldest := c.ll.Back()
		c.ll.Remove(oldest)
		delete(c.index, oldest.Value.(*entry).key)
	}
}
