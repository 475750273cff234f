// Package queue defines mailprobe's work message (schema version 1, see
// docs/message-schema.md and docs/message.schema.json), its strict decoder,
// the batching of a job's addresses into messages, and what a received
// message looks like. The implementations live in subpackages: sqsq (Amazon
// SQS) and local (an embedded bbolt-backed queue with the same semantics);
// queuetest holds the contract test suite both pass.
package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/internal/store"
)

// Version is the message schema version this package writes and reads.
const Version = 1

// Limits shared by every implementation, SQS's own.
const (
	// MaxBodyBytes is the largest message body: SQS's 256 KiB limit, which also
	// bounds the sum of the bodies in one SendMessageBatch.
	MaxBodyBytes = 256 * 1024
	// MaxBatchEntries is the number of messages one SendMessageBatch takes.
	MaxBatchEntries = 10
	// MaxDelay is the longest delivery delay (SQS DelaySeconds ≤ 900).
	MaxDelay = 15 * time.Minute
	// MaxVisibility is the longest a received message can stay hidden (12 h).
	MaxVisibility = 12 * time.Hour
)

// Errors callers branch on.
var (
	// ErrTooLarge reports a message whose body exceeds MaxBodyBytes.
	ErrTooLarge = errors.New("queue: message too large")
	// ErrReceiptInvalid reports a receipt handle that no longer names an
	// in-flight message (deleted, or received again by someone else).
	ErrReceiptInvalid = errors.New("queue: receipt handle invalid")
)

// SendError reports the messages a Send could not enqueue; the others were
// sent. Implementations that send all or nothing (local) return a plain
// error instead: then none was sent.
type SendError struct {
	Unsent []int // indices into Send's msgs, ascending
	Err    error // the last failure
}

func (e *SendError) Error() string {
	return fmt.Sprintf("queue: %d messages not sent: %v", len(e.Unsent), e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// Message is one unit of work: addresses from one job, those of a domain
// kept together (see Batch) so a worker can verify them over a shared MX
// lookup, SMTP sessions and politeness budget.
type Message struct {
	Version int    `json:"version"`
	JobID   string `json:"job_id"`
	Items   []Item `json:"items"`
	// Request holds Reacher check_email options (from_email, hello_name,
	// smtp_port, proxy, ...) applied to every item; to_email comes from the item.
	Request json.RawMessage `json:"request,omitempty"`
	// Webhook is Reacher's {"on_each_email":{"url","headers","extra"}}.
	Webhook json.RawMessage `json:"webhook,omitempty"`
	// Attempt counts the times the message's items were sent back to the
	// queue (the retry policy reads each item's Retry). With the items'
	// indices it is the message's identity: the key under which its
	// results are stored once (store.MessageKey, see Key).
	Attempt int `json:"attempt"`
	// Credits are the per-MX politeness budget booked for the items: a
	// worker whose sessions would have waited long for it sent them back,
	// delayed until the booking starts, with the booking.
	Credits []Credit `json:"credits,omitempty"`
}

// Credit is RCPT budget at an MX host booked from At on.
type Credit struct {
	Host  string    `json:"host"`
	RCPTs int       `json:"rcpts"`
	At    time.Time `json:"at"`
}

// Item is one address and its position in the job's input.
type Item struct {
	Index int    `json:"index"`
	Email string `json:"email"`
	// Retry is set on an item sent again after a check gave no definite
	// answer: the retry policy's memory of the address (engine/retry).
	Retry *RetryState `json:"retry,omitempty"`
}

// RetryState is an item's retry history and when it is due. It travels
// with the item, so no store keeps it and any worker can decide.
type RetryState struct {
	// Due is when the item may be checked again; a worker that receives
	// it earlier (SQS delays stop at 15 minutes) sends it on unchecked.
	Due time.Time `json:"due"`
	// FirstTemporary is the first temporary answer, which starts the
	// retry window.
	FirstTemporary *time.Time `json:"first_temporary,omitempty"`
	Temporary      int        `json:"temporary,omitempty"`  // temporary answers so far
	Connection     int        `json:"connection,omitempty"` // connection failures so far
	// WaitedMs is the time spent waiting for politeness since the first
	// temporary answer, which the window does not count.
	WaitedMs int64 `json:"waited_ms,omitempty"`
	// AvoidProxy is the proxy (host:port) the last check failed through;
	// the retry goes through another when there is one.
	AvoidProxy string `json:"avoid_proxy,omitempty"`
	// Reason is why the item waits (greylisted, temporary, connection,
	// politeness, deadline, retry): what the job status reports.
	Reason string `json:"reason,omitempty"`
}

// Key is the message's identity in the store: its attempt and the
// indices of its items (store.MessageKey). Deliveries of one message share
// it; a message sent back with some of its items has another.
func (m Message) Key() string {
	idx := make([]int, len(m.Items))
	for i, it := range m.Items {
		idx[i] = it.Index
	}
	return store.MessageKey(m.Attempt, idx)
}

// Delivery is a received message. When the body is not a valid message, Err
// holds the *DecodeError and Message is zero: the consumer logs it and leaves
// the message alone, so it reaches the dead-letter queue after
// maxReceiveCount receives instead of looping or blocking a batch.
type Delivery struct {
	ID            string
	Message       Message
	Body          []byte
	ReceiptHandle string
	ReceiveCount  int
	Err           error
}

// Domain returns the lower-cased part of an address after its last '@', or ""
// when there is none; messages group items by it.
func Domain(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(email[at+1:]))
}

// Encode validates m and returns its JSON body. A zero Version is written as
// Version.
func Encode(m Message) ([]byte, error) {
	if m.Version == 0 {
		m.Version = Version
	}
	if err := validate(m); err != nil {
		return nil, err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("queue: encode: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(body), MaxBodyBytes)
	}
	return body, nil
}

// ClampDelay rounds d up to whole seconds within [0, MaxDelay], what SQS's
// DelaySeconds can express: a message is never delivered before d.
func ClampDelay(d time.Duration) time.Duration {
	return min(max(d, 0).Truncate(time.Second)+ceilSecond(d), MaxDelay)
}

// ClampVisibility rounds d up to whole seconds within [0, MaxVisibility].
func ClampVisibility(d time.Duration) time.Duration {
	return min(max(d, 0).Truncate(time.Second)+ceilSecond(d), MaxVisibility)
}

func ceilSecond(d time.Duration) time.Duration {
	if d > 0 && d%time.Second != 0 {
		return time.Second
	}
	return 0
}
