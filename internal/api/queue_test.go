package api

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/queue/local"
)

// localQueue opens the embedded queue `mailprobe serve` uses.
func localQueue(t testing.TB) *local.Queue {
	t.Helper()
	q, err := local.Open(filepath.Join(t.TempDir(), "queue.db"), local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// drain receives every visible message.
func drain(t *testing.T, q *local.Queue) []queue.Message {
	t.Helper()
	var out []queue.Message
	for {
		ds, err := q.Receive(context.Background(), queue.MaxBatchEntries, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			return out
		}
		for _, d := range ds {
			if d.Err != nil {
				t.Fatalf("queued body does not decode: %v\n%s", d.Err, d.Body)
			}
			out = append(out, d.Message)
			if err := q.Delete(context.Background(), d); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestBulkThroughLocalQueue(t *testing.T) {
	q := localQueue(t)
	hs := newHarness(t, func(c *Config, d *Deps) {
		c.BatchItems = 300
		d.Queue = q
	})
	const n = 2500
	var input []string
	for i := range n {
		input = append(input, fmt.Sprintf(`"user%d@domain%d.test"`, i, i%3))
	}
	hook := `{"on_each_email":{"url":"https://hooks.example.com/h","headers":{},"extra":{"k":"` + strings.Repeat("v", 4000) + `"}}}`
	r := hs.do(t, "POST", "/v1/bulk", `{"input":[`+strings.Join(input, ",")+`],"webhook":`+hook+`}`, nil)
	if r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	msgs := drain(t, q)
	seen := make([]bool, n)
	for _, m := range msgs {
		if m.JobID != "1001" || string(m.Webhook) != hook || len(m.Items) > 300 {
			t.Fatalf("message job %s, %d items, webhook %d bytes", m.JobID, len(m.Items), len(m.Webhook))
		}
		for _, it := range m.Items {
			if seen[it.Index] || it.Email != fmt.Sprintf("user%d@domain%d.test", it.Index, it.Index%3) {
				t.Fatalf("item %+v duplicated or wrong", it)
			}
			seen[it.Index] = true
		}
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("address %d was not queued", i)
		}
	}
}

func TestBulkWebhookTooLarge(t *testing.T) {
	hs := newHarness(t, nil)
	hook := `{"on_each_email":{"url":"https://h.example.com","extra":"` + strings.Repeat("x", 17<<10) + `"}}`
	r := hs.do(t, "POST", "/v1/bulk", `{"input":["a@b.c"],"webhook":`+hook+`}`, nil)
	if r.status != 413 || r.errorText(t) != "webhook field is larger than 16384 bytes." {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestDeferredThroughLocalQueue(t *testing.T) {
	q := localQueue(t)
	hs := newHarness(t, func(c *Config, d *Deps) {
		c.InlineBudget = time.Millisecond
		d.Queue = q
		d.Checker = &fakeChecker{fn: func(ctx context.Context, req engine.Request) (engine.Result, error) {
			<-ctx.Done()
			return testResult(req.ToEmail, engine.Unknown), ctx.Err()
		}}
	})
	r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"late@example.com","hello_name":"me.example.org"}`, nil)
	if r.status != 200 || r.header.Get(headerStatusURL) != "/v1/check_email/1001" {
		t.Fatalf("status %d %v %s", r.status, r.header, r.body)
	}
	msgs := drain(t, q)
	if len(msgs) != 1 || msgs[0].JobID != "1001" || msgs[0].Items[0] != (queue.Item{Index: 0, Email: "late@example.com"}) ||
		string(msgs[0].Request) != `{"to_email":"late@example.com","hello_name":"me.example.org"}` {
		t.Fatalf("queued %+v", msgs)
	}
}
