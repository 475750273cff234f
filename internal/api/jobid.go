package api

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/mailprobe/mailprobe/internal/store"
)

// jobID is a job id as it appears in JSON. Reacher's job ids are integers
// (Postgres serial, i32 in its clients), so decimal ids are written as
// JSON numbers and a Reacher client can keep its integer type; any other
// id is written as a string.
type jobID string

// MarshalJSON writes a decimal id as a number, anything else as a string.
func (id jobID) MarshalJSON() ([]byte, error) {
	if isDecimalID(string(id)) {
		return []byte(id), nil
	}
	return json.Marshal(string(id))
}

// isDecimalID accepts 1-15 digits without a leading zero: exactly
// representable in a float64, so JavaScript clients read it unchanged.
func isDecimalID(s string) bool {
	if s == "" || len(s) > 15 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validJobID bounds what reaches the store as a key.
func validJobID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// randomJobID returns a random id in [1, 2^31-1], the range of Reacher's
// i32 job ids. Collisions are possible and handled: CreateJob is
// conditional and createJob retries with a fresh id.
func randomJobID() string {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		if n := binary.BigEndian.Uint32(b[:]) & 0x7fffffff; n != 0 {
			return strconv.FormatUint(uint64(n), 10)
		}
	}
}

// createJobAttempts bounds the retries after id collisions.
const createJobAttempts = 5

// createJob stores job under a fresh id. prepare, when not nil, runs for
// each candidate id before the job is stored (the messages of a bulk job
// carry its id): when it fails, no job is created.
func (s *server) createJob(ctx context.Context, job store.Job, prepare func(id string) error) (string, error) {
	for range createJobAttempts {
		job.ID = s.deps.NewJobID()
		job.CreatedAt = s.deps.Now().UTC()
		if prepare != nil {
			if err := prepare(job.ID); err != nil {
				return "", err
			}
		}
		err := s.deps.Jobs.CreateJob(ctx, job)
		if errors.Is(err, store.ErrJobExists) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create job: %w", err)
		}
		return job.ID, nil
	}
	return "", fmt.Errorf("create job: no free id after %d attempts", createJobAttempts)
}
