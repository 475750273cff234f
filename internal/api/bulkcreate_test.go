package api

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/sqsq"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

// TestMain stops the SQS emulator BenchmarkBulkCreateDistinctDomains may
// have started (none when MAILPROBE_SQS_ENDPOINT points at a running one).
func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
}

// TestBulkRefusedBeforeJob checks that inputs the queue could not carry are
// a precise 400 and leave no job behind (they used to create the job, then
// fail in Send with a 500, and the job stayed Running forever).
func TestBulkRefusedBeforeJob(t *testing.T) {
	long := strings.Repeat("a", maxInputBytes-len("@b.c")+1) + "@b.c"
	huge := strings.Repeat("a", 300<<10) + "@b.c"
	tests := []struct{ name, body, wantErr string }{
		{"blank", `{"input":["a@b.c",""]}`, "input[1]: empty address."},
		{"whitespace", `{"input":["a@b.c","d@e.f","g@h.i","  "]}`, "input[3]: empty address."},
		{"1025 bytes", `{"input":["a@b.c","` + long + `"]}`, "input[1]: longer than 1024 bytes."},
		{"300 KB", `{"input":["` + huge + `"]}`, "input[0]: longer than 1024 bytes."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, nil)
			r := hs.do(t, "POST", "/v1/bulk", tt.body, nil)
			if r.status != 400 || r.errorText(t) != tt.wantErr {
				t.Fatalf("got %d %s, want 400 %q", r.status, r.body, tt.wantErr)
			}
			if _, err := hs.store.GetJob(context.Background(), "1001"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetJob after a refused request = %v, want ErrNotFound", err)
			}
		})
	}
	t.Run("1024 bytes is accepted", func(t *testing.T) {
		hs := newHarness(t, nil)
		ok := strings.Repeat("a", maxInputBytes-len("@b.c")) + "@b.c"
		if r := hs.do(t, "POST", "/v1/bulk", `{"input":["`+ok+`"]}`, nil); r.status != 200 {
			t.Fatalf("got %d %s", r.status, r.body)
		}
	})
}

// TestCreateJobPreparesFirst checks the ordering bulkCreate relies on: the
// messages are built for the candidate id before the job is stored, and a
// failure there stores nothing.
func TestCreateJobPreparesFirst(t *testing.T) {
	hs := newHarness(t, nil)
	s := hs.h.(*server)
	ctx := context.Background()
	errBuild := errors.New("build failed")
	_, err := s.createJob(ctx, store.Job{Total: 1}, func(id string) error {
		if _, err := hs.store.GetJob(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("job %s exists before prepare ran (%v)", id, err)
		}
		return errBuild
	})
	if !errors.Is(err, errBuild) {
		t.Fatalf("createJob = %v, want the prepare error", err)
	}
	if _, err := hs.store.GetJob(ctx, "1001"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetJob after a failed prepare = %v, want ErrNotFound", err)
	}
}

// TestBulkEnqueueFailure: the queue fails after the job exists. The client
// gets a 500 with the request id; the log names the job and what is missing.
func TestBulkEnqueueFailure(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantUnsent float64 // messages
		wantAddrs  float64
	}{
		{"nothing sent", errors.New("sqs: unavailable"), 3, 5},
		{"partly sent", &queue.SendError{Unsent: []int{1}, Err: errors.New("sqs: throttled")}, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, func(c *Config, d *Deps) {
				c.BatchItems = 2
				d.Queue = &fakeQueue{err: tt.err}
			})
			r := hs.do(t, "POST", "/v1/bulk", `{"input":["a@one.test","b@one.test","c@two.test","d@two.test","e@three.test"]}`, nil)
			reqID := r.header.Get("X-Request-Id")
			if r.status != 500 || r.errorText(t) != "Internal server error (request id "+reqID+")." {
				t.Fatalf("got %d %s", r.status, r.body)
			}
			if _, err := hs.store.GetJob(context.Background(), "1001"); err != nil {
				t.Fatalf("GetJob: %v (the job was created before queueing)", err)
			}
			var found bool
			for _, l := range hs.logs.lines(t) {
				if l["msg"] != "bulk job not fully queued" {
					continue
				}
				found = true
				if l["level"] != "ERROR" || l["job_id"] != "1001" || l["request_id"] != reqID ||
					l["messages_unsent"] != tt.wantUnsent || l["messages_total"] != float64(3) || l["addresses_unqueued"] != tt.wantAddrs {
					t.Errorf("log line %v", l)
				}
			}
			if !found {
				t.Errorf("no \"bulk job not fully queued\" log line")
			}
		})
	}
}

// distinctDomains is a bulk body of n addresses, each of its own domain:
// the worst case for one-domain-per-message batching.
func distinctDomains(n int) string {
	var b strings.Builder
	b.WriteString(`{"input":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"user%d@company%d.example"`, i, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

// TestBulkDistinctDomainsPacked: 100 000 distinct domains make 1 000
// messages of 100 (100 SendMessageBatch calls), not 100 000.
func TestBulkDistinctDomainsPacked(t *testing.T) {
	hs := newHarness(t, nil)
	if r := hs.do(t, "POST", "/v1/bulk", distinctDomains(100_000), nil); r.status != 200 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	msgs, _ := hs.queue.sent()
	if len(msgs) != 1000 {
		t.Errorf("%d messages, want 1000", len(msgs))
	}
}

// BenchmarkBulkCreateDistinctDomains times POST /v1/bulk of 100 000
// addresses of distinct domains, from the request to the last message
// queued, against the embedded queue and (when the emulator is available)
// SQS on fauxqs over loopback.
func BenchmarkBulkCreateDistinctDomains(b *testing.B) {
	body := distinctDomains(100_000)
	b.Run("local", func(b *testing.B) {
		benchBulkCreate(b, body, func(b *testing.B) Enqueuer { return localQueue(b) })
	})
	b.Run("fauxqs", func(b *testing.B) {
		benchBulkCreate(b, body, func(b *testing.B) Enqueuer {
			c := awsemu.SQS(b)
			out, err := c.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(awsemu.Name(b, "bulk"))})
			if err != nil {
				b.Fatalf("CreateQueue: %v", err)
			}
			b.Cleanup(func() {
				_, _ = c.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
			})
			return sqsq.New(c, aws.ToString(out.QueueUrl))
		})
	})
}

func benchBulkCreate(b *testing.B, body string, open func(*testing.B) Enqueuer) {
	q := open(b)
	hs := newHarness(b, func(_ *Config, d *Deps) { d.Queue = q })
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/bulk", strings.NewReader(body))
		req.Header.Set("x-reacher-secret", testSecret)
		rec := httptest.NewRecorder()
		hs.h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/job")
}
