// Package local is the embedded work queue for `mailprobe serve`: a durable
// queue in a bbolt file with SQS's semantics — delivery delay, visibility
// timeout, receive count, dead-lettering after MaxReceiveCount receives — so
// the worker runs unchanged on one machine without AWS.
//
// A restart loses nothing: queued messages stay queued, delayed ones keep
// their delay, and messages that were in flight when the process stopped
// become visible again at once (bbolt's file lock means no other process can
// still be working on them).
package local

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// Options configure Open. Zero values take the defaults.
type Options struct {
	// Name names the queue inside the file (default "work"), so one file can
	// hold several queues.
	Name string
	// VisibilityTimeout hides a received message this long before it is
	// delivered again (default 30 s, SQS's default).
	VisibilityTimeout time.Duration
	// MaxReceiveCount moves a message to the dead-letter queue when a receive
	// would deliver it for the (MaxReceiveCount+1)-th time; 0 never does.
	MaxReceiveCount int
}

// Queue is a durable queue in a bbolt file. It is safe for concurrent use.
type Queue struct {
	db      *bbolt.DB
	owner   bool // Close closes db
	name    string
	msgs    []byte // bucket: seq → record
	ready   []byte // bucket: visibleAt (u64) seq (u64) → ∅, the visibility index
	opts    Options
	dlq     *Queue
	mu      sync.Mutex
	arrived chan struct{} // closed and replaced when a message is sent
	now     func() time.Time
}

// record is a stored message.
type record struct {
	ID           string    `json:"id"`
	Body         []byte    `json:"body"`
	VisibleAt    time.Time `json:"visible_at"`
	ReceiveCount int       `json:"receive_count"`
	InFlight     bool      `json:"in_flight"`
	Receipt      string    `json:"receipt,omitempty"`
	// SentAt is when the message was first sent, for the age of the
	// oldest message (Stats); zero in records written before it existed.
	SentAt time.Time `json:"sent_at,omitzero"`
}

// Open opens or creates the queue file at path and makes the messages that
// were in flight visible again.
func Open(path string, opts Options) (*Queue, error) {
	if opts.Name == "" {
		opts.Name = "work"
	}
	if opts.VisibilityTimeout <= 0 {
		opts.VisibilityTimeout = 30 * time.Second
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("local queue: open %s: %w", path, err)
	}
	q := newQueue(db, true, opts.Name, opts)
	q.dlq = newQueue(db, false, opts.Name+"-dlq", Options{Name: opts.Name + "-dlq", VisibilityTimeout: opts.VisibilityTimeout})
	for _, qq := range []*Queue{q, q.dlq} {
		if err := qq.recover(); err != nil {
			db.Close()
			return nil, err
		}
	}
	return q, nil
}

func newQueue(db *bbolt.DB, owner bool, name string, opts Options) *Queue {
	return &Queue{
		db: db, owner: owner, name: name, opts: opts,
		msgs: []byte("queue/" + name + "/msgs"), ready: []byte("queue/" + name + "/ready"),
		arrived: make(chan struct{}), now: time.Now,
	}
}

// DeadLetter returns the queue that receives the messages this one
// dead-letters. It shares the file: its Close does nothing.
func (q *Queue) DeadLetter() *Queue { return q.dlq }

// Close closes the file (for the queue returned by Open).
func (q *Queue) Close() error {
	if !q.owner {
		return nil
	}
	return q.db.Close()
}

// recover creates the buckets and makes in-flight messages visible now.
func (q *Queue) recover() error {
	now := q.now()
	err := q.db.Update(func(tx *bbolt.Tx) error {
		msgs, ready, err := q.buckets(tx)
		if err != nil {
			return err
		}
		var stuck []record
		var keys [][]byte
		err = msgs.ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("message %x: %w", k, err)
			}
			if r.InFlight {
				stuck, keys = append(stuck, r), append(keys, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, r := range stuck {
			seq := binary.BigEndian.Uint64(keys[i])
			if err := ready.Delete(readyKey(r.VisibleAt, seq)); err != nil {
				return err
			}
			r.InFlight, r.Receipt, r.VisibleAt = false, "", now
			if err := put(msgs, ready, seq, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("local queue %s: recover: %w", q.name, err)
	}
	return nil
}

func (q *Queue) buckets(tx *bbolt.Tx) (msgs, ready *bbolt.Bucket, err error) {
	if msgs, err = tx.CreateBucketIfNotExists(q.msgs); err != nil {
		return nil, nil, err
	}
	ready, err = tx.CreateBucketIfNotExists(q.ready)
	return msgs, ready, err
}

// readyKey orders the visibility index by time, then by send order.
func readyKey(at time.Time, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(nil, uint64(at.UnixNano())^1<<63)
	return binary.BigEndian.AppendUint64(k, seq)
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// put writes r and its visibility index entry.
func put(msgs, ready *bbolt.Bucket, seq uint64, r record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := msgs.Put(seqKey(seq), raw); err != nil {
		return err
	}
	return ready.Put(readyKey(r.VisibleAt, seq), nil)
}

// signal wakes the receivers waiting for a message.
func (q *Queue) signal() {
	q.mu.Lock()
	close(q.arrived)
	q.arrived = make(chan struct{})
	q.mu.Unlock()
}

func (q *Queue) arrivals() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.arrived
}
