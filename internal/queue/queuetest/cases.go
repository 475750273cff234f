package queuetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/queue"
)

func testSendReceiveDelete(t *testing.T, open Opener) {
	ctx := context.Background()
	h := open(t, Config{Visibility: time.Second})
	want := map[string]queue.Message{}
	var msgs []queue.Message
	for i, e := range []string{"a@x.com", "b@y.com", "c@z.com"} {
		m := msg("job-s", i, e)
		m.Request = json.RawMessage(`{"smtp_port":2525}`)
		msgs, want[e] = append(msgs, m), m
	}
	if err := h.Queue.Send(ctx, msgs, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := receiveN(t, h.Queue, 3)
	for _, d := range got {
		if d.Err != nil || d.ReceiveCount != 1 || d.ID == "" || d.ReceiptHandle == "" {
			t.Errorf("delivery %+v: want decoded, receive count 1, id and receipt set", d)
		}
		if w := want[d.Message.Items[0].Email]; !reflect.DeepEqual(d.Message, w) {
			t.Errorf("received %+v, want %+v", d.Message, w)
		}
		delete(want, d.Message.Items[0].Email)
		if err := h.Queue.Delete(ctx, d); err != nil {
			t.Errorf("Delete: %v", err)
		}
	}
	if len(want) != 0 {
		t.Errorf("never received %v", want)
	}
	receiveNone(t, h.Queue, 2500*time.Millisecond) // past the visibility timeout
}

func testDelay(t *testing.T, open Opener) {
	h := open(t, Config{Visibility: time.Second})
	start := time.Now()
	if err := h.Queue.Send(context.Background(), []queue.Message{msg("job-d", 0, "a@x.com")}, 2*time.Second); err != nil {
		t.Fatalf("Send: %v", err)
	}
	receiveN(t, h.Queue, 1)
	if elapsed := time.Since(start); elapsed < 2*time.Second {
		t.Errorf("delayed message received after %v, want not before 2s", elapsed)
	}
}

func testVisibility(t *testing.T, open Opener) {
	h := open(t, Config{Visibility: 2 * time.Second})
	if err := h.Queue.Send(context.Background(), []queue.Message{msg("job-v", 0, "a@x.com")}, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	before := time.Now()
	first := receiveN(t, h.Queue, 1)[0]
	again := receiveN(t, h.Queue, 1)[0]
	if elapsed := time.Since(before); elapsed < 2*time.Second {
		t.Errorf("redelivered after %v, want not before the 2s visibility timeout", elapsed)
	}
	if again.ID != first.ID || again.ReceiveCount != first.ReceiveCount+1 {
		t.Errorf("redelivery = id %s count %d, want id %s count %d", again.ID, again.ReceiveCount, first.ID, first.ReceiveCount+1)
	}
	if err := h.Queue.Delete(context.Background(), again); err != nil {
		t.Errorf("Delete: %v", err)
	}
}

func testRetry(t *testing.T, open Opener) {
	ctx := context.Background()
	h := open(t, Config{Visibility: 30 * time.Second})
	if err := h.Queue.Send(ctx, []queue.Message{msg("job-r", 0, "a@x.com")}, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	first := receiveN(t, h.Queue, 1)[0]
	before := time.Now()
	if err := h.Queue.Retry(ctx, first, 2*time.Second); err != nil {
		t.Fatalf("Retry: %v", err)
	}
	again := receiveN(t, h.Queue, 1)[0] // long before the 30s visibility timeout
	if elapsed := time.Since(before); elapsed < 2*time.Second {
		t.Errorf("retried message back after %v, want not before 2s", elapsed)
	}
	if again.ID != first.ID || again.ReceiveCount != 2 {
		t.Errorf("retried delivery = id %s count %d, want id %s count 2", again.ID, again.ReceiveCount, first.ID)
	}
}

// testDeadLetter sends a poison body: it is delivered with a DecodeError,
// never deleted, and after MaxReceiveCount receives it moves to the
// dead-letter queue, while a good message next to it is processed.
func testDeadLetter(t *testing.T, open Opener) {
	ctx := context.Background()
	h := open(t, Config{Visibility: time.Second, MaxReceiveCount: 2})
	poison := []byte(`{"version":9,"job_id":"job-p","items":[]}`)
	if err := h.Queue.SendRaw(ctx, 0, poison); err != nil {
		t.Fatalf("SendRaw: %v", err)
	}
	if err := h.Queue.Send(ctx, []queue.Message{msg("job-p", 0, "a@x.com")}, 0); err != nil {
		t.Fatalf("Send: %v", err)
	}
	receives := 0
	deadline := time.Now().Add(patience)
	for dead := false; !dead; {
		if time.Now().After(deadline) {
			t.Fatalf("poison message never reached the dead-letter queue (%d receives)", receives)
		}
		ds, err := h.Queue.Receive(ctx, queue.MaxBatchEntries, time.Second)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		for _, d := range ds {
			if d.Err == nil {
				if err := h.Queue.Delete(ctx, d); err != nil {
					t.Errorf("Delete: %v", err)
				}
				continue
			}
			var de *queue.DecodeError
			if !errors.As(d.Err, &de) || de.Reason != queue.ReasonVersion || string(d.Body) != string(poison) {
				t.Errorf("poison delivery: err %v body %s, want unknown_version and the body", d.Err, d.Body)
			}
			receives++
			if d.ReceiveCount > 2 {
				t.Errorf("poison delivered with receive count %d, past maxReceiveCount 2", d.ReceiveCount)
			}
		}
		dl, err := h.DeadLetter.Receive(ctx, queue.MaxBatchEntries, 0)
		if err != nil {
			t.Fatalf("Receive(dead letter): %v", err)
		}
		for _, d := range dl {
			dead = true
			if string(d.Body) != string(poison) {
				t.Errorf("dead letter body %s, want %s", d.Body, poison)
			}
		}
	}
	if receives != 2 {
		t.Errorf("poison received %d times before dead-lettering, want 2", receives)
	}
}

// testBatchSplitting sends messages whose sum is far above one batch's
// 256 KiB and more than 10 of them, in one call; all arrive once.
func testBatchSplitting(t *testing.T, open Opener) {
	ctx := context.Background()
	h := open(t, Config{Visibility: 30 * time.Second})
	var emails []string
	for i := range 1200 {
		domain := []string{"x.com", "y.org"}[i%2]
		emails = append(emails, fmt.Sprintf("%s-%d@%s", strings.Repeat("u", 400), i, domain))
	}
	msgs := queue.Batch("job-b", emails, nil, 0, 100*1024)
	for i := range 15 {
		msgs = append(msgs, msg("job-b", 2000+i, fmt.Sprintf("s%d@z.net", i)))
	}
	if err := h.Queue.Send(ctx, msgs, 0); err != nil {
		t.Fatalf("Send(%d messages): %v", len(msgs), err)
	}
	seen := map[int]bool{}
	for _, d := range receiveN(t, h.Queue, len(msgs)) {
		for _, it := range d.Message.Items {
			if seen[it.Index] {
				t.Errorf("index %d received twice", it.Index)
			}
			seen[it.Index] = true
		}
		if err := h.Queue.Delete(ctx, d); err != nil {
			t.Errorf("Delete: %v", err)
		}
	}
	if len(seen) != len(emails)+15 {
		t.Errorf("received %d items, want %d", len(seen), len(emails)+15)
	}
}

// testSendRaw sends bodies encoded beforehand, as the API does: they arrive
// byte for byte and decoded, with the delay honoured like Send's.
func testSendRaw(t *testing.T, open Opener) {
	ctx := context.Background()
	h := open(t, Config{Visibility: 30 * time.Second})
	want := map[string]string{} // body by email
	var bodies [][]byte
	for i, e := range []string{"a@x.com", "b@y.com"} {
		b, err := queue.Encode(msg("job-raw", i, e))
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		bodies, want[e] = append(bodies, b), string(b)
	}
	start := time.Now()
	if err := h.Queue.SendRaw(ctx, time.Second, bodies...); err != nil {
		t.Fatalf("SendRaw: %v", err)
	}
	for _, d := range receiveN(t, h.Queue, len(bodies)) {
		if d.Err != nil || string(d.Body) != want[d.Message.Items[0].Email] {
			t.Errorf("delivery %s (err %v), want one of the bodies sent", d.Body, d.Err)
		}
		delete(want, d.Message.Items[0].Email)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("delayed bodies received after %v, want not before 1s", elapsed)
	}
	if len(want) != 0 {
		t.Errorf("never received %v", want)
	}
}

// testTooLarge: an oversized message fails Send, and an oversized body
// SendRaw, before anything of the call is sent.
func testTooLarge(t *testing.T, open Opener) {
	ctx := context.Background()
	h := open(t, Config{Visibility: time.Second})
	big := msg("job-t", 0, strings.Repeat("a", queue.MaxBodyBytes)+"@x.com")
	err := h.Queue.Send(ctx, []queue.Message{msg("job-t", 1, "b@x.com"), big}, 0)
	if !errors.Is(err, queue.ErrTooLarge) {
		t.Errorf("Send(oversized) = %v, want ErrTooLarge", err)
	}
	small, err := queue.Encode(msg("job-t", 2, "c@x.com"))
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	err = h.Queue.SendRaw(ctx, 0, small, make([]byte, queue.MaxBodyBytes+1))
	if !errors.Is(err, queue.ErrTooLarge) {
		t.Errorf("SendRaw(oversized) = %v, want ErrTooLarge", err)
	}
	receiveNone(t, h.Queue, time.Second) // nothing of either call was sent
}
