package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// A message's key names what one queue message asks for: its job's items
// at given indices, handed back hop times. Deliveries of the same message
// (redeliveries, duplicates) share the key, so the first to store results
// under it wins and the others read what it stored; a message handed back
// with some of those items gets another key (one hop more).
//
// MessageKey is "h<hop>-" and 24 hex digits of SHA-256 over the sorted
// indices; indices must be distinct.
func MessageKey(hop int, indices []int) string {
	sorted := slices.Clone(indices)
	slices.Sort(sorted)
	b := make([]byte, 0, 8*len(sorted))
	for _, i := range sorted {
		b = binary.BigEndian.AppendUint64(b, uint64(i))
	}
	sum := sha256.Sum256(b)
	return "h" + strconv.Itoa(hop) + "-" + hex.EncodeToString(sum[:12])
}

// maxKeyLen bounds a message key (MessageKey's are about 30 bytes).
const maxKeyLen = 64

// Verdict is the verdict of one stored result, which is what counting
// needs.
type Verdict struct {
	Index   int    `json:"i"`
	Verdict string `json:"v"`
}

// Part is some of a message's items handed back to the queue together:
// they wait for one reason until one time.
type Part struct {
	Indices []int     `json:"i"`
	Reason  string    `json:"r"`
	Until   time.Time `json:"u"`
}

// Outcome is what a delivery of a message settled: the results it stored
// (by StoreResults, under the same key) and the parts it handed back. The
// message's other items, if any, were left for the message's own
// redelivery. The first Settle of a key wins.
type Outcome struct {
	JobID string
	Key   string // MessageKey of the message
	Hop   int    // the message's hop; its parts are messages of Hop+1
	By    string // the delivery (queue message id) that settled it
	// At is when it was settled; Settle sets it.
	At     time.Time
	Stored []Verdict // the results stored under Key, ascending by index
	Parts  []Part
}

// Settled returns the outcome that stores recs and hands back parts.
func Settled(jobID, key string, hop int, by string, recs []Record, parts []Part) Outcome {
	o := Outcome{JobID: jobID, Key: key, Hop: hop, By: by, Parts: parts, Stored: make([]Verdict, len(recs))}
	for i, r := range recs {
		o.Stored[i] = Verdict{Index: r.Index, Verdict: r.IsReachable}
	}
	slices.SortFunc(o.Stored, func(a, b Verdict) int { return a.Index - b.Index })
	return o
}

// CheckKey validates a job id and message key.
func CheckKey(jobID, key string) error {
	switch {
	case jobID == "":
		return fmt.Errorf("%w: empty job id", ErrInvalid)
	case key == "" || len(key) > maxKeyLen:
		return fmt.Errorf("%w: message key %q", ErrInvalid, key)
	}
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: message key %q", ErrInvalid, key)
		}
	}
	return nil
}

// ResultsToStore validates the records StoreResults gets (valid, of
// jobID, distinct indices) and returns them as every store keeps them: a
// copy in index order, a zero CreatedAt set to now, times cleaned (Clean).
func ResultsToStore(jobID, key string, recs []Record, now time.Time) ([]Record, error) {
	if err := checkResults(jobID, key, recs); err != nil {
		return nil, err
	}
	recs = slices.Clone(recs)
	for i := range recs {
		if recs[i].CreatedAt.IsZero() {
			recs[i].CreatedAt = now
		}
		recs[i].CreatedAt = Clean(recs[i].CreatedAt)
	}
	slices.SortFunc(recs, func(a, b Record) int { return a.Index - b.Index })
	return recs, nil
}

// OutcomeToSettle validates an outcome before Settle (see checkOutcome) and
// returns it as every store keeps it: settled at now, each part's indices
// sorted and its time cleaned, in copies that share no memory with o.
func OutcomeToSettle(o Outcome, now time.Time) (Outcome, error) {
	if err := checkOutcome(o); err != nil {
		return Outcome{}, err
	}
	o.At = Clean(now)
	o.Stored = slices.Clone(o.Stored)
	o.Parts = slices.Clone(o.Parts)
	for i := range o.Parts {
		o.Parts[i].Indices = slices.Sorted(slices.Values(o.Parts[i].Indices))
		o.Parts[i].Until = Clean(o.Parts[i].Until)
	}
	return o, nil
}

// checkResults validates the records StoreResults gets: valid, of jobID,
// distinct indices.
func checkResults(jobID, key string, recs []Record) error {
	if err := CheckKey(jobID, key); err != nil {
		return err
	}
	seen := make(map[int]bool, len(recs))
	for _, r := range recs {
		if err := CheckRecord(r); err != nil {
			return err
		}
		if r.JobID != jobID || seen[r.Index] {
			return fmt.Errorf("%w: record %s#%d in results of %s/%s", ErrInvalid, r.JobID, r.Index, jobID, key)
		}
		seen[r.Index] = true
	}
	return nil
}

// checkOutcome validates an outcome before Settle: indices in range and
// disjoint between the stored results and the parts.
func checkOutcome(o Outcome) error {
	if err := CheckKey(o.JobID, o.Key); err != nil {
		return err
	}
	if o.Hop < 0 {
		return fmt.Errorf("%w: hop %d", ErrInvalid, o.Hop)
	}
	seen := make(map[int]bool)
	add := func(i int) error {
		if i < 0 || i > MaxIndex || seen[i] {
			return fmt.Errorf("%w: index %d out of range or repeated in outcome %s", ErrInvalid, i, o.Key)
		}
		seen[i] = true
		return nil
	}
	for _, v := range o.Stored {
		if !ValidVerdict(v.Verdict) {
			return fmt.Errorf("%w: verdict %q", ErrInvalid, v.Verdict)
		}
		if err := add(v.Index); err != nil {
			return err
		}
	}
	for _, p := range o.Parts {
		if len(p.Indices) == 0 || p.Reason == "" {
			return fmt.Errorf("%w: empty part or reason in outcome %s", ErrInvalid, o.Key)
		}
		for _, i := range p.Indices {
			if err := add(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// Tally turns a job's outcomes into its counters, its results' places
// and its waiting addresses, by the rules every store follows:
//
//   - an index stored by several outcomes (only a producer that sends
//     overlapping messages can cause that) counts once, for the earliest
//     settled outcome (then the smaller key);
//   - a part's addresses wait until an outcome of its own message (hop+1,
//     its indices) is settled, or until they are counted.
type Tally struct {
	Summary Summary
	Last    time.Time // when the last counted result was settled
	// Waiting counts the addresses of parts that wait, by reason, and
	// Next is the earliest Until among them.
	Waiting map[string]int
	Next    time.Time
	// Owner maps each counted index to the key of the outcome that
	// stored it.
	Owner map[int]string
}

// TallyOutcomes computes a Tally.
func TallyOutcomes(outs []Outcome) Tally {
	sorted := slices.Clone(outs)
	slices.SortFunc(sorted, func(a, b Outcome) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if a.Key < b.Key {
			return -1
		}
		if a.Key > b.Key {
			return 1
		}
		return 0
	})
	t := Tally{Owner: make(map[int]string)}
	keys := make(map[string]bool, len(outs))
	for _, o := range sorted {
		keys[o.Key] = true
		for _, v := range o.Stored {
			if _, dup := t.Owner[v.Index]; dup {
				continue
			}
			t.Owner[v.Index] = o.Key
			t.Summary.Add(v.Verdict)
			if o.At.After(t.Last) {
				t.Last = o.At
			}
		}
	}
	for _, o := range sorted {
		for _, p := range o.Parts {
			if keys[MessageKey(o.Hop+1, p.Indices)] {
				continue
			}
			n := 0
			for _, i := range p.Indices {
				if _, counted := t.Owner[i]; !counted {
					n++
				}
			}
			t.Wait(p, n)
		}
	}
	return t
}

// Wait counts n addresses of part p as waiting.
func (t *Tally) Wait(p Part, n int) {
	if n == 0 {
		return
	}
	if t.Waiting == nil {
		t.Waiting = map[string]int{}
	}
	t.Waiting[p.Reason] += n
	if t.Next.IsZero() || p.Until.Before(t.Next) {
		t.Next = p.Until
	}
}

// Fill sets j's counters and waiting addresses from the tally.
func (t Tally) Fill(j *Job) {
	j.Summary, j.Processed = t.Summary, t.Summary.Total()
	j.Waiting, j.WaitingReasons, j.NextRetryAt = 0, t.Waiting, nil
	for _, n := range t.Waiting {
		j.Waiting += n
	}
	if !t.Next.IsZero() {
		next := t.Next.UTC()
		j.NextRetryAt = &next
	}
	if j.Status() == StatusCompleted {
		last := t.Last
		j.FinishedAt = &last
	}
}

// Page returns the indices of the page [offset, offset+limit) of a
// job's counted indices in ascending order.
func (t Tally) Page(offset, limit int) []int {
	idx := make([]int, 0, len(t.Owner))
	for i := range t.Owner {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	if offset >= len(idx) {
		return nil
	}
	return idx[offset:min(len(idx), offset+limit)]
}

// Expiry is the time a job or result written at t expires after
// retention (DefaultRetention when zero).
func Expiry(t time.Time, retention time.Duration) time.Time {
	if retention <= 0 {
		retention = DefaultRetention
	}
	return t.Add(retention)
}

// Stepper is the part of a store PutResult needs.
type Stepper interface {
	StoreResults(ctx context.Context, jobID, key string, recs []Record) (stored []Record, created bool, err error)
	Settle(ctx context.Context, o Outcome) (Outcome, bool, error)
}

// PutResult stores one record as a message of its own (key
// MessageKey(0, [index])) and settles it: for tests and producers that
// write results one at a time. It returns the stored record; created
// reports whether this call stored it.
func PutResult(ctx context.Context, s Stepper, rec Record) (Record, bool, error) {
	if err := CheckRecord(rec); err != nil {
		return Record{}, false, err
	}
	key := MessageKey(0, []int{rec.Index})
	stored, created, err := s.StoreResults(ctx, rec.JobID, key, []Record{rec})
	if err != nil {
		return Record{}, false, err
	}
	if len(stored) != 1 || stored[0].Index != rec.Index {
		return Record{}, false, fmt.Errorf("store: put result %s#%d: key %s holds %d other results", rec.JobID, rec.Index, key, len(stored))
	}
	if _, _, err := s.Settle(ctx, Settled(rec.JobID, key, 0, "", stored, nil)); err != nil {
		return Record{}, false, err
	}
	return stored[0], created, nil
}
