package queue

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mailprobe/mailprobe/internal/store"
)

// Reason classifies why a body was rejected.
type Reason string

// Reasons for DecodeError.
const (
	ReasonJSON    Reason = "bad_json"        // not a JSON object
	ReasonSchema  Reason = "schema"          // missing, unknown or mistyped field
	ReasonVersion Reason = "unknown_version" // version other than 1
	ReasonNoItems Reason = "no_items"        // empty items
	ReasonIndex   Reason = "bad_index"       // negative, too large or repeated index
)

// DecodeError reports a body that is not a valid message. It is permanent:
// the same body always fails the same way.
type DecodeError struct {
	Reason Reason
	Detail string
	Err    error // the underlying JSON error, if any
}

func (e *DecodeError) Error() string {
	msg := "queue: invalid message: " + string(e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *DecodeError) Unwrap() error { return e.Err }

func decodeErr(r Reason, format string, args ...any) *DecodeError {
	return &DecodeError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Decode parses a message body. It accepts schema version 1 strictly (no
// unknown fields) and Reacher's SQS task body
// {"input":{"to_email":...,...},"job_id":"single_shot"|{"bulk":N},"webhook":...}
// (see ReacherJobID and ReacherIndex for how that maps). Any other body fails
// with a *DecodeError.
func Decode(body []byte) (Message, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return Message{}, &DecodeError{Reason: ReasonJSON, Detail: "want a JSON object", Err: err}
	}
	if _, ok := fields["version"]; ok {
		return decodeV1(body)
	}
	if _, ok := fields["input"]; ok {
		return decodeReacher(body)
	}
	return Message{}, decodeErr(ReasonSchema, "no version field (and not a Reacher task)")
}

func decodeV1(body []byte) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Message{}, &DecodeError{Reason: ReasonSchema, Err: err}
	}
	if dec.More() {
		return Message{}, decodeErr(ReasonJSON, "data after the message")
	}
	if err := validate(m); err != nil {
		return Message{}, err
	}
	return m, nil
}

// validate checks the rules the JSON Schema cannot express as well as those
// it can, so Encode never writes what Decode rejects.
func validate(m Message) error {
	switch {
	case m.Version != Version:
		return decodeErr(ReasonVersion, "version %d, want %d", m.Version, Version)
	case m.JobID == "":
		return decodeErr(ReasonSchema, "empty job_id")
	case len(m.Items) == 0:
		return decodeErr(ReasonNoItems, "")
	case m.Attempt < 0:
		return decodeErr(ReasonSchema, "attempt %d < 0", m.Attempt)
	case !objectOrAbsent(m.Request):
		return decodeErr(ReasonSchema, "request is not an object")
	case !objectOrAbsent(m.Webhook):
		return decodeErr(ReasonSchema, "webhook is not an object")
	}
	for _, c := range m.Credits {
		if c.Host == "" || c.RCPTs < 1 || c.At.IsZero() {
			return decodeErr(ReasonSchema, "credit %+v: want a host, rcpts ≥ 1 and at", c)
		}
	}
	// Items may be of several domains: Batch packs small domains together
	// and the worker's VerifyBatch groups them by domain again.
	seen := make(map[int]bool, len(m.Items))
	for _, it := range m.Items {
		switch {
		case strings.TrimSpace(it.Email) == "":
			return decodeErr(ReasonSchema, "item %d: empty email", it.Index)
		case it.Index < 0 || it.Index > store.MaxIndex:
			// The store refuses larger indices (exact in every JSON
			// reader): refuse them here, before a worker receives them.
			return decodeErr(ReasonIndex, "index %d out of [0, %d]", it.Index, store.MaxIndex)
		case seen[it.Index]:
			return decodeErr(ReasonIndex, "index %d repeated", it.Index)
		case it.Retry != nil && (it.Retry.Temporary < 0 || it.Retry.Connection < 0 || it.Retry.WaitedMs < 0):
			return decodeErr(ReasonSchema, "item %d: negative count in retry", it.Index)
		}
		seen[it.Index] = true
	}
	return nil
}

func objectOrAbsent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return true
	}
	var obj map[string]json.RawMessage
	return raw[0] == '{' && json.Unmarshal(raw, &obj) == nil
}

// reacherTask is Reacher's CheckEmailTask (backend/src/worker/do_work.rs).
type reacherTask struct {
	Input   map[string]json.RawMessage `json:"input"`
	JobID   json.RawMessage            `json:"job_id"`
	Webhook json.RawMessage            `json:"webhook"`
}

func decodeReacher(body []byte) (Message, error) {
	var task reacherTask
	if err := json.Unmarshal(body, &task); err != nil {
		return Message{}, &DecodeError{Reason: ReasonSchema, Detail: "reacher task", Err: err}
	}
	var email string
	if err := json.Unmarshal(task.Input["to_email"], &email); err != nil || strings.TrimSpace(email) == "" {
		return Message{}, decodeErr(ReasonSchema, "reacher task: input.to_email missing or not a string")
	}
	jobID, bulk, err := reacherJob(task.JobID, body)
	if err != nil {
		return Message{}, err
	}
	index := 0
	if bulk {
		index = ReacherIndex(email)
	}
	m := Message{Version: Version, JobID: jobID, Items: []Item{{Index: index, Email: email}}}
	delete(task.Input, "to_email")
	if len(task.Input) > 0 {
		if m.Request, err = json.Marshal(task.Input); err != nil {
			return Message{}, &DecodeError{Reason: ReasonSchema, Detail: "reacher task input", Err: err}
		}
	}
	if !bytes.Equal(bytes.TrimSpace(task.Webhook), []byte("null")) {
		m.Webhook = task.Webhook
	}
	if err := validate(m); err != nil {
		return Message{}, err
	}
	return m, nil
}

// reacherJob maps Reacher's job_id: "single_shot" or {"bulk": N}.
func reacherJob(raw json.RawMessage, body []byte) (id string, bulk bool, err error) {
	var s string
	if json.Unmarshal(raw, &s) == nil && s == "single_shot" {
		return ReacherSingleShotID(body), false, nil
	}
	var b struct {
		Bulk *int64 `json:"bulk"`
	}
	if json.Unmarshal(raw, &b) == nil && b.Bulk != nil && *b.Bulk >= 0 {
		return ReacherJobID(*b.Bulk), true, nil
	}
	return "", false, decodeErr(ReasonSchema, `reacher task: job_id %s, want "single_shot" or {"bulk":N}`, raw)
}

// ReacherJobID is the mailprobe job id of Reacher bulk job n.
func ReacherJobID(n int64) string { return fmt.Sprintf("reacher-bulk-%d", n) }

// ReacherSingleShotID is the job id of a Reacher single-shot task: derived
// from the body, so a redelivered (or re-sent) identical task maps to the
// same job and is stored once.
func ReacherSingleShotID(body []byte) string {
	sum := sha256.Sum256(body)
	return "reacher-single-" + hex.EncodeToString(sum[:16])
}

// Reacher bulk tasks carry one address each and no position in the job, so
// the item index is derived from the address: distinct addresses of a job get
// distinct indices (collision odds ~n²/1.6·10^16), a redelivery gets the same
// one, and all are 16 digits wide so they sort alike.
const (
	reacherIndexBase = 1_000_000_000_000_000
	reacherIndexSpan = 8_000_000_000_000_000
)

// ReacherIndex is the item index given to address email of a Reacher bulk
// task: in [10^15, 9·10^15), below store.MaxIndex.
func ReacherIndex(email string) int {
	sum := sha256.Sum256([]byte(strings.TrimSpace(email)))
	return reacherIndexBase + int(binary.BigEndian.Uint64(sum[:8])%reacherIndexSpan)
}

// IsDecodeError reports whether err is (or wraps) a *DecodeError.
func IsDecodeError(err error) bool {
	var de *DecodeError
	return errors.As(err, &de)
}
