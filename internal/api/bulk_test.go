package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/store"
)

func storeJob(id string, total int) store.Job {
	return store.Job{ID: id, Total: total, CreatedAt: testEpoch}
}

func TestBulkCreate(t *testing.T) {
	hs := newHarness(t, func(c *Config, _ *Deps) { c.BatchItems = 2 })
	body := `{"input":["a@one.test","b@two.test","c@ONE.test","not an address","d@one.test"],
		"webhook":{"on_each_email":{"url":"https://hooks.example.com/x","headers":{"x-token":"t"},"extra":{"batch":7}}},
		"unknown":[1,2,3]}`
	r := hs.do(t, "POST", "/v1/bulk", body, nil)
	if r.status != 200 || string(r.body) != `{"job_id":1001}` {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	job, err := hs.store.GetJob(context.Background(), "1001")
	if err != nil || job.Total != 5 {
		t.Fatalf("job %+v %v", job, err)
	}
	wantHook := `{"on_each_email":{"url":"https://hooks.example.com/x","headers":{"x-token":"t"},"extra":{"batch":7}}}`
	if string(job.Webhook) != wantHook {
		t.Errorf("stored webhook %s", job.Webhook)
	}
	msgs, delays := hs.queue.sent()
	seen := map[int]string{}
	var got [][]int
	for i, m := range msgs {
		if m.JobID != "1001" || string(m.Webhook) != wantHook || delays[i] != 0 || len(m.Items) > 2 {
			t.Errorf("message %+v (delay %v)", m, delays[i])
		}
		var idx []int
		for _, it := range m.Items {
			seen[it.Index] = it.Email
			idx = append(idx, it.Index)
		}
		got = append(got, idx)
	}
	// one.test (3 addresses) fills a message and opens the next, which
	// two.test joins; the address without a domain comes last.
	if want := "[[0 2] [4 1] [3]]"; fmt.Sprint(got) != want {
		t.Errorf("messages %v, want %s", got, want)
	}
	want := map[int]string{0: "a@one.test", 1: "b@two.test", 2: "c@ONE.test", 3: "not an address", 4: "d@one.test"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("queued %v, want %v", seen, want)
	}
}

func TestBulkCreateBadInput(t *testing.T) {
	hs := newHarness(t, func(c *Config, _ *Deps) { c.MaxBulkAddresses, c.MaxBulkBytes = 3, 200 })
	tests := []struct {
		name, body string
		status     int
		wantErr    string
	}{
		{"no input", `{"webhook":null}`, 400, "input field is required."},
		{"empty input", `{"input":[]}`, 400, "input field must contain at least one email address."},
		{"input not an array", `{"input":"a@b.c"}`, 400, "input field must be an array of strings."},
		{"input null", `{"input":null}`, 400, "input field must be an array of strings."},
		{"element not a string", `{"input":["a@b.c",42]}`, 400, "input[1] must be a string."},
		{"element an object", `{"input":["a@b.c","d@e.f",{"x":1}]}`, 400, "input[2] must be a string."},
		{"too many addresses", `{"input":["a@b.c","d@e.f","g@h.i","j@k.l"]}`, 413, "input field has more than 3 addresses."},
		{"too many bytes", `{"input":["` + strings.Repeat("a", 300) + `@b.c"]}`, 413, "Request body is larger than 200 bytes."},
		{"not an object", `["a@b.c"]`, 400, "Request body must be a JSON object."},
		{"syntax error", `{"input":["a@b.c",]}`, 400, "Malformed JSON at byte offset 18: invalid character ']' looking for beginning of value."},
		{"trailing data", `{"input":["a@b.c"]} {}`, 400, "Request body must contain a single JSON value."},
		{"webhook url missing", `{"input":["a@b.c"],"webhook":{"on_each_email":{}}}`, 400, "webhook.on_each_email.url must be an absolute http or https URL."},
		{"webhook url not http", `{"input":["a@b.c"],"webhook":{"on_each_email":{"url":"file:///etc/passwd"}}}`, 400, "webhook.on_each_email.url must be an absolute http or https URL."},
		{"webhook headers wrong type", `{"input":["a@b.c"],"webhook":{"on_each_email":{"url":"https://x.y","headers":{"a":1}}}}`, 400, "Field webhook.on_each_email.headers must be a string, not number."},
		{"webhook url without host", `{"input":["a@b.c"],"webhook":{"on_each_email":{"url":"http:///hook"}}}`, 400, "webhook.on_each_email.url must be an absolute http or https URL."},
		{"webhook url port only", `{"input":["a@b.c"],"webhook":{"on_each_email":{"url":"http://:8080/hook"}}}`, 400, "webhook.on_each_email.url must be an absolute http or https URL."},
		{"webhook url relative", `{"input":["a@b.c"],"webhook":{"on_each_email":{"url":"/hook"}}}`, 400, "webhook.on_each_email.url must be an absolute http or https URL."},
		{"webhook url opaque", `{"input":["a@b.c"],"webhook":{"on_each_email":{"url":"https:hook"}}}`, 400, "webhook.on_each_email.url must be an absolute http or https URL."},
		{"webhook header name CRLF", `{"input":["a@b.c"],"webhook":{"on_each_email":{"url":"https://x.y","headers":{"x-a\r\nb":"1"}}}}`, 400, `webhook.on_each_email.headers: "x-a\r\nb" is not a valid header name.`},
		{"webhook header name space", `{"input":["a@b.c"],"webhook":{"on_each_email":{"url":"https://x.y","headers":{"x a":"1"}}}}`, 400, `webhook.on_each_email.headers: "x a" is not a valid header name.`},
		{"webhook header name empty", `{"input":["a@b.c"],"webhook":{"on_each_email":{"url":"https://x.y","headers":{"":"1"}}}}`, 400, `webhook.on_each_email.headers: "" is not a valid header name.`},
		{"webhook header value CRLF", `{"input":["a@b.c"],"webhook":{"on_each_email":{"url":"https://x.y","headers":{"x-t":"1\r\nHost: evil"}}}}`, 400, `webhook.on_each_email.headers: the value of "x-t" is not a valid header value (no control characters such as CR or LF).`},
		{"blank element", `{"input":["a@b.c",""]}`, 400, "input[1]: empty address."},
		{"whitespace element", `{"input":["a@b.c","d@e.f"," \t "]}`, 400, "input[2]: empty address."},
		{"empty body", ``, 400, "Request body is empty; a JSON object is required."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.do(t, "POST", "/v1/bulk", tt.body, nil)
			if r.status != tt.status || r.errorText(t) != tt.wantErr {
				t.Fatalf("got %d %q, want %d %q", r.status, r.errorText(t), tt.status, tt.wantErr)
			}
		})
	}
	if msgs, _ := hs.queue.sent(); len(msgs) != 0 {
		t.Errorf("bad requests queued %d messages", len(msgs))
	}
}

func TestBulkCreateAtTheLimits(t *testing.T) {
	hs := newHarness(t, nil)
	var b strings.Builder
	b.WriteString(`{"input":[`)
	for i := range 100000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"user%d@d%d.test"`, i, i%7)
	}
	b.WriteString(`]}`)
	r := hs.do(t, "POST", "/v1/bulk", b.String(), nil)
	if r.status != 200 {
		t.Fatalf("100 000 addresses: %d %s", r.status, r.body)
	}
	msgs, _ := hs.queue.sent()
	n := 0
	for _, m := range msgs {
		n += len(m.Items)
	}
	if n != 100000 {
		t.Errorf("queued %d addresses, want 100000", n)
	}
	over := strings.Replace(b.String(), `]}`, `,"x@y.z"]}`, 1)
	if r := hs.do(t, "POST", "/v1/bulk", over, nil); r.status != 413 {
		t.Errorf("100 001 addresses: %d %s", r.status, r.body)
	}
}

func TestBulkStatus(t *testing.T) {
	hs := newHarness(t, nil)
	if err := hs.store.CreateJob(context.Background(), storeJob("5", 3)); err != nil {
		t.Fatal(err)
	}
	status := func() map[string]any {
		r := hs.do(t, "GET", "/v1/bulk/5", "", nil)
		if r.status != 200 {
			t.Fatalf("status %d %s", r.status, r.body)
		}
		return r.json(t)
	}
	m := status()
	if m["job_status"] != "Running" || m["finished_at"] != nil || m["total_records"] != float64(3) || m["total_processed"] != float64(0) || m["job_id"] != float64(5) {
		t.Errorf("fresh job %v", m)
	}
	// Two addresses were sent back to the queue, to be checked later
	// (mailprobe's extra fields).
	due := time.Date(2025, 7, 26, 16, 20, 0, 0, time.UTC)
	_, _, err := hs.store.Settle(context.Background(), store.Outcome{JobID: "5", Key: store.MessageKey(0, []int{0, 1, 2}),
		Parts: []store.Part{{Indices: []int{1}, Reason: "greylisted", Until: due.Add(time.Minute)}, {Indices: []int{2}, Reason: "politeness", Until: due}}})
	if err != nil {
		t.Fatal(err)
	}
	if m := status(); m["waiting_for_retry"] != float64(2) || m["next_retry_at"] != "2025-07-26T16:20:00Z" ||
		fmt.Sprint(m["waiting_reasons"]) != "map[greylisted:1 politeness:1]" {
		t.Errorf("job with waiting addresses %v", m)
	}
	hs.storeResult(t, "5", 0, testResult("a@x.test", engine.Safe))
	hs.storeResult(t, "5", 1, testResult("b@x.test", engine.Invalid))
	hs.clock.Add(90e9)
	hs.storeResult(t, "5", 2, testResult("c@x.test", engine.Risky))
	hs.storeResult(t, "5", 2, testResult("c@x.test", engine.Risky)) // redelivery
	r := hs.do(t, "GET", "/v1/bulk/5", "", nil)
	want := `{"job_id":5,"created_at":"2025-07-26T16:13:00Z","finished_at":"2025-07-26T16:14:30Z","total_records":3,"total_processed":3,` +
		`"summary":{"total_safe":1,"total_risky":1,"total_invalid":1,"total_unknown":0},"job_status":"Completed",` +
		`"waiting_for_retry":0,"next_retry_at":null}`
	if string(r.body) != want {
		t.Errorf("completed job\n got %s\nwant %s", r.body, want)
	}
	if r := hs.do(t, "GET", "/v1/bulk/6", "", nil); r.status != 404 || r.errorText(t) != "Job not found." {
		t.Errorf("unknown job: %d %s", r.status, r.body)
	}
}

func TestJobsUnavailable(t *testing.T) {
	hs := newHarness(t, func(_ *Config, d *Deps) { d.Jobs, d.Queue = nil, nil })
	for _, target := range []string{"/v1/bulk/1", "/v1/bulk/1/results", "/v1/check_email/1"} {
		if r := hs.do(t, "GET", target, "", nil); r.status != 503 {
			t.Errorf("GET %s: %d", target, r.status)
		}
	}
	if r := hs.do(t, "POST", "/v1/bulk", `{"input":["a@b.c"]}`, nil); r.status != 503 {
		t.Errorf("POST /v1/bulk: %d", r.status)
	}
}

func TestJobIDCollisionsAreRetried(t *testing.T) {
	ids := []string{"7", "7", "8"}
	n := 0
	hs := newHarness(t, func(_ *Config, d *Deps) {
		d.NewJobID = func() string { n++; return ids[n-1] }
	})
	for _, want := range []string{`{"job_id":7}`, `{"job_id":8}`} {
		r := hs.do(t, "POST", "/v1/bulk", `{"input":["a@b.c"]}`, nil)
		if string(r.body) != want {
			t.Errorf("got %s, want %s", r.body, want)
		}
	}
}

func TestJobIDJSON(t *testing.T) {
	tests := []struct{ id, want string }{
		{"1234567", `1234567`},
		{"2147483647", `2147483647`},
		{"0123", `"0123"`},
		{"abc-1", `"abc-1"`},
		{"1234567890123456", `"1234567890123456"`},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			b, err := json.Marshal(jobID(tt.id))
			if err != nil || string(b) != tt.want {
				t.Errorf("got %s %v, want %s", b, err, tt.want)
			}
		})
	}
	for range 1000 {
		id := randomJobID()
		if !isDecimalID(id) || len(id) > 10 {
			t.Fatalf("random id %q", id)
		}
	}
}
