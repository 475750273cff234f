package sqsq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/mailprobe/mailprobe/internal/clock"
	"github.com/mailprobe/mailprobe/internal/queue"
)

// fakeSQS answers SendMessageBatch in memory. fail decides, per entry id
// and attempt (1 for the first), whether it fails and whose fault it is;
// gate, when set, holds every call until it is closed.
type fakeSQS struct {
	API // nil: only SendMessageBatch is called

	fail func(id, attempt int) (failed, senderFault bool)
	gate chan struct{}
	full int // close gate when this many calls are in flight
	open bool

	mu        sync.Mutex
	inFlight  int
	maxFlight int
	attempts  map[int]int
	delivered map[int]int
}

func (f *fakeSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	if f.gate != nil && f.inFlight == f.full && !f.open {
		// Later calls can reach the same count again: close only once.
		close(f.gate)
		f.open = true
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		id, _ := strconv.Atoi(aws.ToString(e.Id))
		f.attempts[id]++
		if failed, sender := f.fail(id, f.attempts[id]); failed {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{
				Id: e.Id, Code: aws.String("Injected"), Message: aws.String("injected"), SenderFault: sender,
			})
			continue
		}
		f.delivered[id]++
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func newFake(fail func(id, attempt int) (bool, bool)) *fakeSQS {
	if fail == nil {
		fail = func(int, int) (bool, bool) { return false, false }
	}
	return &fakeSQS{fail: fail, attempts: map[int]int{}, delivered: map[int]int{}}
}

func messages(n int) []queue.Message {
	msgs := make([]queue.Message, n)
	for i := range msgs {
		msgs[i] = queue.Message{JobID: "j", Items: []queue.Item{{Index: i, Email: fmt.Sprintf("u%d@d%d.example", i, i)}}}
	}
	return msgs
}

// TestSendConcurrent checks that Send keeps DefaultSendConcurrency calls in
// flight, never more: every call waits until that many are in flight, so a
// sequential Send would stall until the context ends.
func TestSendConcurrent(t *testing.T) {
	f := newFake(nil)
	f.gate, f.full = make(chan struct{}), DefaultSendConcurrency
	q := New(f, "http://sqs.test/q")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a stall guard, not a speed check
	defer cancel()
	msgs := messages(25 * queue.MaxBatchEntries)
	if err := q.Send(ctx, msgs, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if f.maxFlight != DefaultSendConcurrency {
		t.Errorf("%d calls in flight at most, want %d", f.maxFlight, DefaultSendConcurrency)
	}
	for i := range msgs {
		if f.delivered[i] != 1 {
			t.Errorf("message %d delivered %d times, want 1", i, f.delivered[i])
		}
	}
}

// TestSendPartialFailures checks retries and the reported unsent messages
// when batches run concurrently: entries SQS failed on its side are retried
// until sent, even when another entry of the same batch was refused, and
// SendError lists exactly what was not sent (the refused entries), in order.
func TestSendPartialFailures(t *testing.T) {
	refused := map[int]bool{13: true, 57: true}
	f := newFake(func(id, attempt int) (bool, bool) {
		switch {
		case refused[id]:
			return true, true
		case id%5 == 0 && attempt == 1:
			return true, false
		}
		return false, false
	})
	q := New(f, "http://sqs.test/q")
	q.backoff = time.Millisecond
	err := q.Send(context.Background(), messages(100), 0)
	se, ok := err.(*queue.SendError)
	if !ok {
		t.Fatalf("Send = %v, want a *queue.SendError", err)
	}
	// 10 and 15 failed on SQS's side in the round where 13 was refused (50
	// and 55 likewise with 57): they are retried and sent all the same.
	want := []int{13, 57}
	if !slices.Equal(se.Unsent, want) {
		t.Errorf("unsent %v, want %v", se.Unsent, want)
	}
	for i := range 100 {
		wantN := 1
		if slices.Contains(want, i) {
			wantN = 0
		}
		if f.delivered[i] != wantN {
			t.Errorf("message %d delivered %d times, want %d", i, f.delivered[i], wantN)
		}
	}
}

// slowSQS accepts every entry after a fixed delay per call, a stand-in for
// in-region SendMessageBatch latency.
type slowSQS struct {
	API
	delay time.Duration
}

func (s slowSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if err := clock.Sleep(ctx, s.delay); err != nil {
		return nil, err
	}
	return &sqs.SendMessageBatchOutput{}, nil
}

// BenchmarkSendSlowCalls sends the 1 000 messages of a 100 000-address
// distinct-domain job (100 per message) when each SendMessageBatch call
// takes 10 ms.
func BenchmarkSendSlowCalls(b *testing.B) {
	var emails []string
	for i := range 100_000 {
		emails = append(emails, fmt.Sprintf("user%d@company%d.example", i, i))
	}
	msgs := queue.Batch("job", emails, nil, 100, 0)
	for _, c := range []int{1, DefaultSendConcurrency} {
		b.Run(fmt.Sprintf("in-flight-%d", c), func(b *testing.B) {
			q := New(slowSQS{delay: 10 * time.Millisecond}, "http://sqs.test/q")
			q.sendConcurrency = c
			for b.Loop() {
				if err := q.Send(context.Background(), msgs, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/job")
		})
	}
}

// TestSendGivesUp checks the end of the retries: an entry SQS keeps failing
// on its side is reported unsent after sendRounds attempts, next to a
// refused one of the same batch, and the error says an entry was refused.
func TestSendGivesUp(t *testing.T) {
	f := newFake(func(id, _ int) (bool, bool) {
		switch id {
		case 3:
			return true, false
		case 4:
			return true, true
		}
		return false, false
	})
	q := New(f, "http://sqs.test/q")
	q.backoff = time.Millisecond
	err := q.Send(context.Background(), messages(8), 0)
	var se *queue.SendError
	if !errors.As(err, &se) || !slices.Equal(se.Unsent, []int{3, 4}) {
		t.Fatalf("Send = %v, want a *queue.SendError for 3 and 4", err)
	}
	if !errors.Is(err, errSenderFault) {
		t.Errorf("Send = %v, want it to wrap errSenderFault", err)
	}
	if f.attempts[3] != q.sendRounds || f.attempts[4] != 1 {
		t.Errorf("attempts: entry 3 %d (want %d), entry 4 %d (want 1)", f.attempts[3], q.sendRounds, f.attempts[4])
	}
}
