// Package store defines mailprobe's stored data — bulk jobs, one result
// record per verified address, a result cache and expiring counters — and the
// rules every implementation follows. The implementations live in
// subpackages: dynamo (Amazon DynamoDB) and bolt (an embedded bbolt file);
// storetest holds the contract test suite both pass.
//
// Results are written by queue message, not by address: each delivery of a
// message stores the final results it reached together (StoreResults, the
// first write for a message key wins) and then settles the message's
// outcome (Settle: which indices it stored, and which it handed back to the
// queue, in parts, for what reason). A job's counters and its results in
// input order are read from the outcomes (see steps.go).
//
// Consumers (the API, the worker) declare the small interfaces they need;
// this package declares none, so it has no AWS or bbolt imports.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Errors callers branch on. Implementations wrap them with %w.
var (
	// ErrNotFound reports a job, record or address with nothing stored.
	ErrNotFound = errors.New("store: not found")
	// ErrJobExists reports a CreateJob for an id already taken.
	ErrJobExists = errors.New("store: job exists")
	// ErrInvalid reports an argument the store refuses (empty id, bad
	// verdict, negative index, ...); it is the caller's bug, never transient.
	ErrInvalid = errors.New("store: invalid argument")
)

// Verdicts, Reacher's is_reachable values.
const (
	Safe    = "safe"
	Risky   = "risky"
	Invalid = "invalid"
	Unknown = "unknown"
)

// Job statuses as Reacher's GET /v1/bulk/{job_id} reports them.
const (
	StatusRunning   = "Running"
	StatusCompleted = "Completed"
)

// MaxIndex is the largest record index a store accepts: 2^53-1, so that an
// index survives a round trip through JSON numbers in any language.
const MaxIndex = 1<<53 - 1

// DefaultRetention is how long jobs and results are kept when a store is
// given no retention: addresses are personal data.
const DefaultRetention = 30 * 24 * time.Hour

// Job is a bulk verification job: Total addresses, of which Processed have a
// final result. Processed, Summary and FinishedAt are computed by the store
// from the stored results; they are ignored by CreateJob.
type Job struct {
	ID         string          `json:"job_id"`
	Total      int             `json:"total_records"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	Webhook    json.RawMessage `json:"webhook,omitempty"`
	// SingleShot marks the job of one check_email request that could not
	// conclude inline: GET /v1/check_email/{job_id} serves only these, never
	// a bulk job that happens to have one address.
	SingleShot bool    `json:"single_shot,omitempty"`
	Processed  int     `json:"total_processed"`
	Summary    Summary `json:"summary"`
	// Waiting counts the addresses handed back to the queue to be
	// checked later (a retry, the politeness budget, the end of an
	// invocation), WaitingReasons splits them by reason (Part.Reason), and
	// NextRetryAt is when the earliest is due; all computed by the store
	// from the outcomes of the job's messages.
	Waiting        int            `json:"waiting_for_retry"`
	WaitingReasons map[string]int `json:"waiting_reasons,omitempty"`
	NextRetryAt    *time.Time     `json:"next_retry_at"`
}

// Status returns StatusCompleted once every address has a final result.
func (j Job) Status() string {
	if j.Total > 0 && j.Processed >= j.Total {
		return StatusCompleted
	}
	return StatusRunning
}

// Summary counts a job's results by verdict.
type Summary struct {
	Safe    int `json:"total_safe"`
	Risky   int `json:"total_risky"`
	Invalid int `json:"total_invalid"`
	Unknown int `json:"total_unknown"`
}

// Add counts one result with the given verdict; it reports false (and counts
// nothing) for a verdict that is not one of the four.
func (s *Summary) Add(verdict string) bool {
	switch verdict {
	case Safe:
		s.Safe++
	case Risky:
		s.Risky++
	case Invalid:
		s.Invalid++
	case Unknown:
		s.Unknown++
	default:
		return false
	}
	return true
}

// Total returns the number of results counted.
func (s Summary) Total() int { return s.Safe + s.Risky + s.Invalid + s.Unknown }

// Record is one stored verification, Reacher's result row plus the key
// (JobID, Index) that makes writes idempotent.
type Record struct {
	JobID       string          `json:"job_id"`
	Index       int             `json:"index"`
	Input       string          `json:"input"`
	Normalized  string          `json:"normalized,omitempty"`
	IsReachable string          `json:"is_reachable"`
	Result      json.RawMessage `json:"result,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	BackendName string          `json:"backend_name,omitempty"`
	DurationMs  int64           `json:"duration_ms"`
}

// ValidVerdict reports whether v is one of the four is_reachable values.
func ValidVerdict(v string) bool {
	var s Summary
	return s.Add(v)
}

// CheckJob validates a job before CreateJob.
func CheckJob(j Job) error {
	switch {
	case j.ID == "":
		return fmt.Errorf("%w: empty job id", ErrInvalid)
	case j.Total < 1:
		return fmt.Errorf("%w: job %q total %d, want at least 1", ErrInvalid, j.ID, j.Total)
	case len(j.Webhook) > 0 && !json.Valid(j.Webhook):
		return fmt.Errorf("%w: job %q webhook is not JSON", ErrInvalid, j.ID)
	}
	return nil
}

// CheckRecord validates a record before PutResult.
func CheckRecord(r Record) error {
	switch {
	case r.JobID == "":
		return fmt.Errorf("%w: empty job id", ErrInvalid)
	case r.Index < 0 || r.Index > MaxIndex:
		return fmt.Errorf("%w: index %d out of [0, %d]", ErrInvalid, r.Index, MaxIndex)
	case !ValidVerdict(r.IsReachable):
		return fmt.Errorf("%w: verdict %q", ErrInvalid, r.IsReachable)
	case len(r.Result) > 0 && !json.Valid(r.Result):
		return fmt.Errorf("%w: result of %s#%d is not JSON", ErrInvalid, r.JobID, r.Index)
	}
	return nil
}

// CheckPage validates ListResults paging arguments.
func CheckPage(offset, limit int) error {
	if offset < 0 || limit < 1 {
		return fmt.Errorf("%w: offset %d limit %d", ErrInvalid, offset, limit)
	}
	return nil
}

// Clean returns t in UTC without its monotonic clock reading, the form every
// store keeps, so that a stored time compares == with what it returns.
func Clean(t time.Time) time.Time { return t.Round(0).UTC() }
