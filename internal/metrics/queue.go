package metrics

import (
	"context"
	"time"
)

// QueueState is one queue's messages by state, as SQS counts them.
type QueueState struct {
	Visible  int // waiting to be received
	Delayed  int // sent with a delay that has not passed yet
	InFlight int // received and not yet deleted or handed back
	// OldestAge is the age of the oldest visible message; zero when none.
	OldestAge time.Duration
}

// QueueSample is what a process sees of its queues at one moment.
type QueueSample struct {
	Work       QueueState
	DeadLetter QueueState
	// RetriesWaiting is the number of addresses waiting for a retry.
	RetriesWaiting int
}

// QueueSampler samples the queues when metrics are read (at each scrape
// of /metrics). The local queue of `mailprobe serve` is one, through
// app's adapter; whatever knows more (the retry policy) can feed
// RetriesWaiting through the same method.
type QueueSampler interface {
	SampleQueue(ctx context.Context) (QueueSample, error)
}
