package esm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/testenv/rie"
)

// Invocation is what one invocation of a test's instance did: the event it
// got, what came back and when.
type Invocation struct {
	Instance   int // index into Config.Functions
	Start, End time.Time
	Event      events.SQSEvent
	Response   events.SQSEventResponse
	Err        error // the invocation failed: a function error, a timeout, a crash
}

// Config configures Run.
type Config struct {
	SQS      *sqs.Client
	QueueURL string
	QueueARN string
	// BatchSize is the most records per event (default 10); Window is the
	// batching window. Records failed by their batch's response are
	// reported (ReportBatchItemFailures), as the SAM template asks.
	BatchSize int
	Window    time.Duration
	// Functions are the execution environments, each running one
	// invocation at a time: at most len(Functions) run at once
	// (MaximumConcurrency).
	Functions []*rie.Function
	// Timeout is the functions' timeout (default 15 minutes, Lambda's
	// longest): an invocation without an answer by then has failed.
	Timeout time.Duration
	// Done, when set, is called after each invocation.
	Done func(Invocation)
	// Log gets the mapping's lines; nil discards them.
	Log *slog.Logger
}

// Run feeds the queue to cfg.Functions through a Mapping until ctx ends,
// and returns its first failure to receive or delete, or nil.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Minute
	}
	fixed := &instances{cfg: cfg, free: make(chan int, len(cfg.Functions))}
	for i := range cfg.Functions {
		fixed.free <- i
	}
	m := &Mapping{SQS: cfg.SQS, QueueURL: cfg.QueueURL, QueueARN: cfg.QueueARN, BatchSize: cfg.BatchSize,
		Window: cfg.Window, ReportBatchItemFailures: true, Log: cfg.Log}
	return m.Run(ctx, len(cfg.Functions), fixed)
}

// instances is a Function of fixed execution environments.
type instances struct {
	cfg  Config
	free chan int
}

func (f *instances) Acquire(ctx context.Context) (Instance, error) {
	select {
	case i := <-f.free:
		return &instance{f: f, i: i}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// instance is one of the fixed environments, leased for one invocation.
type instance struct {
	f *instances
	i int
}

func (in *instance) Name() string { return "instance#" + strconv.Itoa(in.i) }

func (in *instance) Invoke(ctx context.Context, event []byte) rie.Result {
	inv := Invocation{Instance: in.i, Start: time.Now()}
	res := rie.Invoke(ctx, in.f.cfg.Functions[in.i].URL, event, in.f.cfg.Timeout)
	inv.End = time.Now()
	_ = json.Unmarshal(event, &inv.Event) // the Mapping's own event
	switch {
	case res.Outcome != rie.Invoked:
		inv.Err = fmt.Errorf("esm: %s: %s", res.Outcome, res.Detail)
	default:
		if err := json.Unmarshal(res.Payload, &inv.Response); err != nil {
			inv.Err = fmt.Errorf("esm: function answered %.200s: %w", res.Payload, err)
		}
	}
	if in.f.cfg.Done != nil {
		in.f.cfg.Done(inv)
	}
	return res
}

func (in *instance) Release(bool) { in.f.free <- in.i }
