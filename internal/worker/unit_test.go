package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/queue"
	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/store/bolt"
)

func TestKeyedLimiter(t *testing.T) {
	l := newKeyedLimiter(2)
	ctx := context.Background()
	r1, err := l.acquire(ctx, "a.test")
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := l.acquire(ctx, "a.test")
	rb, _ := l.acquire(ctx, "b.test") // another key is not limited by a.test
	full, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := l.acquire(full, "a.test"); !errors.Is(err, context.Canceled) {
		t.Errorf("third acquire of a full key = %v, want context.Canceled", err)
	}
	r1()
	r3, err := l.acquire(ctx, "a.test")
	if err != nil {
		t.Fatalf("acquire after a release: %v", err)
	}
	for _, r := range []func(){r2, r3, rb} {
		r()
	}
	if n := l.size(); n != 0 {
		t.Errorf("%d keys left after every release, want 0", n)
	}
}

func TestKeyedLimiterBound(t *testing.T) {
	l := newKeyedLimiter(3)
	var (
		mu       sync.Mutex
		cur, top int
		wg       sync.WaitGroup
	)
	for range 40 {
		wg.Go(func() {
			release, err := l.acquire(context.Background(), "x.test")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			cur++
			top = max(top, cur)
			mu.Unlock()
			time.Sleep(time.Millisecond) // let others pile up
			mu.Lock()
			cur--
			mu.Unlock()
			release()
		})
	}
	wg.Wait()
	if top > 3 {
		t.Errorf("%d holders at once, limit 3", top)
	}
}

func TestRequestTemplate(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantErr bool
	}{
		{"absent", ``, false},
		{"null", `null`, false},
		{"options", `{"from_email":"a@example.com","hello_name":"mx.example.com","smtp_port":2525}`, false},
		{"unknown fields ignored", `{"to_email":"x@example.com","future_option":true}`, false},
		{"bad json", `{"smtp_port":`, true},
		{"wrong type", `{"smtp_port":"25"}`, true},
		{"invalid port", `{"smtp_port":70000}`, true},
		{"hello name injection", `{"hello_name":"a\r\nRCPT"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := requestTemplate(json.RawMessage(tt.raw), "someone@example.com")
			if tt.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadRequest) {
				t.Errorf("err = %v, want ErrBadRequest", err)
			}
		})
	}
}

func TestLogHandlerKeys(t *testing.T) {
	var buf bytes.Buffer
	slog.New(NewLogHandler(&buf, slog.LevelInfo)).Info("Verification completed", "result", "safe")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.Bytes())
	}
	for k, want := range map[string]any{"level": "info", "message": "Verification completed", "result": "safe"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %v", k, line[k], want)
		}
	}
	if _, ok := line["timestamp"]; !ok {
		t.Errorf("no timestamp key: %s", buf.Bytes())
	}
}

// fakeQueue is a Rescheduler that records what it is asked and fails on
// demand.
type fakeQueue struct {
	fail   error
	delays []time.Duration
	msgs   []queue.Message
}

func (f *fakeQueue) Send(_ context.Context, msgs []queue.Message, delay time.Duration) error {
	if f.fail != nil {
		return f.fail
	}
	f.delays = append(f.delays, delay)
	f.msgs = append(f.msgs, msgs...)
	return nil
}

func TestSettle(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	items := []queue.Item{{Index: 0, Email: "a@x.test"}, {Index: 1, Email: "b@x.test"}, {Index: 2, Email: "c@x.test"}}
	prov := func(after time.Duration) outcome {
		return outcome{state: provisional, retry: &queue.RetryState{Due: now.Add(after), Temporary: 1, Reason: "greylisted"}}
	}
	fin := func(i int) outcome {
		return outcome{state: final, rec: &store.Record{JobID: "j", Index: i, Input: items[i].Email, IsReachable: store.Safe}}
	}
	type sent struct {
		delay  time.Duration
		items  []int
		reason string
	}
	tests := []struct {
		name    string
		outs    []outcome
		sendErr error
		want    Report
		sent    []sent
	}{
		{"all final", []outcome{fin(0), fin(1), fin(2)}, nil, Report{Done: 3}, nil},
		{"one message per due time, each delayed until then", []outcome{fin(0), prov(10 * time.Minute), prov(time.Minute)}, nil,
			Report{Done: 1, Rescheduled: 2}, []sent{{time.Minute, []int{2}, "greylisted"}, {10 * time.Minute, []int{1}, "greylisted"}}},
		{"same due second, one message", []outcome{prov(time.Minute), prov(time.Minute + time.Millisecond), fin(2)}, nil,
			Report{Done: 1, Rescheduled: 2}, []sent{{time.Minute + time.Second, []int{0, 1}, "greylisted"}}}, // the later, rounded up
		{"overdue: at once", []outcome{prov(-time.Minute), fin(1), fin(2)}, nil,
			Report{Done: 2, Rescheduled: 1}, []sent{{MinDelay, []int{0}, "greylisted"}}},
		{"past SQS's longest delay: sent early, it will be sent on", []outcome{prov(time.Hour), fin(1), fin(2)}, nil,
			Report{Done: 2, Rescheduled: 1}, []sent{{MaxDelay, []int{0}, "greylisted"}}},
		{"unfinished: sent back after the retry delay", []outcome{{state: unfinished}, prov(time.Minute), fin(2)}, nil,
			Report{Done: 1, Rescheduled: 2}, []sent{{5 * time.Second, []int{0}, reasonDeadline}, {time.Minute, []int{1}, "greylisted"}}},
		{"send fails: unfinished, for the redelivery", []outcome{prov(time.Minute), fin(1), fin(2)}, errors.New("queue down"),
			Report{Done: 2, Unfinished: 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := bolt.Open(filepath.Join(t.TempDir(), "s.db"), bolt.WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			q := &fakeQueue{fail: tt.sendErr}
			w := New(Config{Now: func() time.Time { return now }}, Deps{Queue: q, Store: st})
			j := &job{w: w, msg: queue.Message{Version: 1, JobID: "j", Attempt: 2, Items: items}}
			got := j.settle(context.Background(), tt.outs, nil, nil)
			if got != tt.want {
				t.Errorf("report %+v, want %+v", got, tt.want)
			}
			if len(q.msgs) != len(tt.sent) {
				t.Fatalf("sent %d messages (delays %v), want %d", len(q.msgs), q.delays, len(tt.sent))
			}
			for k, m := range q.msgs {
				var idx []int
				for _, it := range m.Items {
					idx = append(idx, it.Index)
					if it.Retry == nil || it.Retry.Reason != tt.sent[k].reason {
						t.Errorf("item %d sent with retry state %+v, want reason %s", it.Index, it.Retry, tt.sent[k].reason)
					}
				}
				if q.delays[k] != tt.sent[k].delay || m.Attempt != 3 || m.JobID != "j" || fmt.Sprint(idx) != fmt.Sprint(tt.sent[k].items) {
					t.Errorf("message %d: delay %v, %+v; want delay %v, attempt 3 of job j with items %v",
						k, q.delays[k], m, tt.sent[k].delay, tt.sent[k].items)
				}
			}
		})
	}
}
