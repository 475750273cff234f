package bolt

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/mailprobe/mailprobe/internal/store"
)

type cacheItem struct {
	Value   json.RawMessage `json:"v"`
	Expires time.Time       `json:"exp"`
}

type counter struct {
	N       int64     `json:"n"`
	Expires time.Time `json:"exp"`
}

// live reports whether an item with the given expiry is still valid at now;
// a zero expiry never expires.
func live(expires, now time.Time) bool { return expires.IsZero() || now.Before(expires) }

// GetCache returns the value stored under key unless it has expired at now.
// Expired items stay in the file until overwritten; they are never returned.
func (s *Store) GetCache(ctx context.Context, key string, now time.Time) (json.RawMessage, bool, error) {
	var it cacheItem
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		ok, err = getJSON(tx.Bucket(bucketCache), []byte(key), &it)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("bolt store: get cache %q: %w", key, err)
	}
	if !ok || !live(it.Expires, now) {
		return nil, false, nil
	}
	return it.Value, true, nil
}

// PutCache stores value under key until expires (zero: forever).
func (s *Store) PutCache(ctx context.Context, key string, value json.RawMessage, expires time.Time) error {
	if !json.Valid(value) {
		return fmt.Errorf("bolt store: put cache %q: value is not JSON", key)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		return putJSON(tx.Bucket(bucketCache), []byte(key), cacheItem{Value: value, Expires: expires.Round(0)})
	})
	if err != nil {
		return fmt.Errorf("bolt store: put cache %q: %w", key, err)
	}
	return nil
}

// Incr adds one to the counter under key and returns the new value. A new
// counter, or one whose window has expired by the store's clock, starts at 1
// with the given expiry; a live counter keeps its first expiry, so a window
// does not slide.
func (s *Store) Incr(ctx context.Context, key string, expires time.Time) (int64, error) {
	return s.IncrBy(ctx, key, 1, expires)
}

// IncrBy is Incr by by instead of one.
func (s *Store) IncrBy(ctx context.Context, key string, by int64, expires time.Time) (int64, error) {
	if by < 1 {
		return 0, fmt.Errorf("bolt store: incr %q by %d: %w", key, by, store.ErrInvalid)
	}
	var c counter
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCounters)
		ok, err := getJSON(b, []byte(key), &c)
		if err != nil {
			return err
		}
		if !ok || !live(c.Expires, s.now()) {
			c = counter{Expires: expires.Round(0)}
		}
		c.N += by
		return putJSON(b, []byte(key), c)
	})
	if err != nil {
		return 0, fmt.Errorf("bolt store: incr %q: %w", key, err)
	}
	return c.N, nil
}

// booking is a politeness.Scheduler key: when its last booking ends.
type booking struct {
	End     time.Time `json:"end"`
	Expires time.Time `json:"exp"`
}

// Reserve books cost of key's time and returns when the booking starts:
// now if the last booking has ended, else its end.
func (s *Store) Reserve(ctx context.Context, key string, cost time.Duration, now, expires time.Time) (time.Time, error) {
	var start time.Time
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCounters)
		var bk booking
		if _, err := getJSON(b, []byte("sched:"+key), &bk); err != nil {
			return err
		}
		start = now
		if bk.End.After(now) {
			start = bk.End
		}
		bk.End = start.Add(cost).Round(0)
		if expires.After(bk.Expires) {
			bk.Expires = expires.Round(0)
		}
		return putJSON(b, []byte("sched:"+key), bk)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("bolt store: reserve %q: %w", key, err)
	}
	return start, nil
}

// Unreserve gives back the last back of the booking that ends at end, if
// it is still the last one.
func (s *Store) Unreserve(ctx context.Context, key string, end time.Time, back time.Duration) error {
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketCounters)
		var bk booking
		ok, err := getJSON(b, []byte("sched:"+key), &bk)
		if err != nil || !ok || !bk.End.Equal(end) {
			return err
		}
		bk.End = end.Add(-back)
		return putJSON(b, []byte("sched:"+key), bk)
	})
	if err != nil {
		return fmt.Errorf("bolt store: unreserve %q: %w", key, err)
	}
	return nil
}
