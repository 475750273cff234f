// Package queuetest is the contract test suite every work queue passes
// (internal/queue/sqsq against fauxqs, internal/queue/local on a temporary
// file). Timing checks are one-sided only: "not before X".
package queuetest

import (
	"context"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/queue"
)

// Queue is the behaviour under test, what the worker and the API use.
type Queue interface {
	Send(ctx context.Context, msgs []queue.Message, delay time.Duration) error
	// SendRaw enqueues bodies as they are (already encoded, or poison).
	SendRaw(ctx context.Context, delay time.Duration, bodies ...[]byte) error
	Receive(ctx context.Context, n int, wait time.Duration) ([]queue.Delivery, error)
	Delete(ctx context.Context, d queue.Delivery) error
	Retry(ctx context.Context, d queue.Delivery, delay time.Duration) error
}

// Config is the queue a test asks for.
type Config struct {
	Visibility      time.Duration // visibility timeout, whole seconds
	MaxReceiveCount int           // dead-letter after this many receives
}

// Harness is a new, empty queue with its dead-letter queue.
type Harness struct {
	Queue      Queue
	DeadLetter Queue
}

// Opener makes a Harness for cfg; it registers its own cleanup on t.
type Opener func(t *testing.T, cfg Config) Harness

// Run runs the whole contract against queues made by open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"SendReceiveDelete", testSendReceiveDelete},
		{"SendRawAsIs", testSendRaw},
		{"DelayHonoured", testDelay},
		{"VisibilityTimeoutRedelivers", testVisibility},
		{"RetryDelays", testRetry},
		{"PoisonGoesToDeadLetter", testDeadLetter},
		{"BatchSplitting", testBatchSplitting},
		{"TooLarge", testTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

// patience bounds every wait for a message; it only limits how long a
// failing test hangs, it asserts nothing about speed.
const patience = 30 * time.Second

// receiveN receives until it has n messages, failing after patience.
func receiveN(t *testing.T, q Queue, n int) []queue.Delivery {
	t.Helper()
	var got []queue.Delivery
	deadline := time.Now().Add(patience)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d messages, want %d", len(got), n)
		}
		ds, err := q.Receive(context.Background(), queue.MaxBatchEntries, time.Second)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		got = append(got, ds...)
	}
	return got
}

// receiveNone checks that nothing arrives within wait.
func receiveNone(t *testing.T, q Queue, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		ds, err := q.Receive(context.Background(), queue.MaxBatchEntries, time.Second)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		for _, d := range ds {
			t.Errorf("unexpected delivery %s (receive count %d): %s", d.ID, d.ReceiveCount, d.Body)
		}
	}
}

func msg(job string, index int, email string) queue.Message {
	return queue.Message{Version: queue.Version, JobID: job, Items: []queue.Item{{Index: index, Email: email}}}
}
