package dynamo

import (
	"sync"

	"github.com/mailprobe/mailprobe/internal/store"
)

// groupCacheSize is how many decoded result groups a Store keeps: paging
// through a job reads each group for several pages, and a warm API
// instance serves them from memory (a group never changes once written).
const groupCacheSize = 256

// groupCache holds decoded groups, evicting in insertion order. It is safe
// for concurrent use.
type groupCache struct {
	mu    sync.Mutex
	max   int
	m     map[string][]store.Record
	order []string
}

func newGroupCache(max int) *groupCache {
	return &groupCache{max: max, m: make(map[string][]store.Record)}
}

func (c *groupCache) get(jobID, key string) ([]store.Record, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	recs, ok := c.m[jobID+"/"+key]
	return recs, ok
}

func (c *groupCache) put(jobID, key string, recs []store.Record) {
	k := jobID + "/" + key
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	if len(c.order) >= c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[k] = recs
	c.order = append(c.order, k)
}
