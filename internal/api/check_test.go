package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

func TestCheckEmailBadInput(t *testing.T) {
	hs := newHarness(t, nil)
	tests := []struct {
		name    string
		body    string
		status  int
		wantErr string // exact, or prefix when it ends with "…"
	}{
		{"missing to_email", `{}`, 400, "to_email field is required."},
		{"empty to_email", `{"to_email":"  "}`, 400, "to_email field is required."},
		{"null to_email", `{"to_email":null}`, 400, "to_email field is required."},
		{"to_email number", `{"to_email":42}`, 400, "Field to_email must be a string, not number (byte offset 14)."},
		{"smtp_port string", `{"to_email":"a@b.com","smtp_port":"25"}`, 400, "Field smtp_port must be an integer, not string (byte offset 38)."},
		{"smtp_timeout wrong shape", `{"to_email":"a@b.com","smtp_timeout":45}`, 400, "Field smtp_timeout must be an object, not number…"},
		{"nested type error", `{"to_email":"a@b.com","smtp_timeout":{"secs":"x"}}`, 400, "Field smtp_timeout.secs must be an integer, not string…"},
		{"check_gravatar string", `{"to_email":"a@b.com","check_gravatar":"yes"}`, 400, "Field check_gravatar must be a boolean, not string…"},
		{"body is an array", `[1,2]`, 400, "Request body must be an object, not array."},
		{"syntax error", `{"to_email": "a@b.com",}`, 400, "Malformed JSON at byte offset 24: invalid character '}' looking for beginning of object key string."},
		{"truncated", `{"to_email": "a@b`, 400, "Request body is not complete JSON (unexpected end of input)."},
		{"empty body", ``, 400, "Request body is empty; a JSON object is required."},
		{"two objects", `{"to_email":"a@b.com"}{"to_email":"c@d.com"}`, 400, "Request body must contain a single JSON value."},
		{"port out of range", `{"to_email":"a@b.com","smtp_port":70000}`, 400, "smtp_port must be between 1 and 65535."},
		{"retries out of range", `{"to_email":"a@b.com","retries":9}`, 400, "retries must be between 0 and 5."},
		{"bad method", `{"to_email":"a@b.com","gmail_verif_method":"carrier-pigeon"}`, 400, "gmail_verif_method: unknown verification method…"},
		{"hello injection", `{"to_email":"a@b.com","hello_name":"x\r\nRCPT TO:<y>"}`, 400, "hello_name must be a single word of printable ASCII (no spaces, line breaks or other characters)."},
		{"hello_name with a Unicode line separator", `{"to_email":"a@b.com","hello_name":"x\u2028RCPT"}`, 400, "hello_name must be a single word of printable ASCII…"},
		{"too large", `{"to_email":"a@b.com","hello_name":"` + strings.Repeat("x", 16<<10) + `"}`, 413, "Request body is larger than 16384 bytes."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.do(t, "POST", "/v1/check_email", tt.body, nil)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			got := r.errorText(t)
			if p, ok := strings.CutSuffix(tt.wantErr, "…"); ok {
				if !strings.HasPrefix(got, p) {
					t.Errorf("error %q, want prefix %q", got, p)
				}
			} else if got != tt.wantErr {
				t.Errorf("error %q, want %q", got, tt.wantErr)
			}
		})
	}
	if n := hs.checker.calls.Load(); n != 0 {
		t.Errorf("the engine ran %d times on bad input", n)
	}
}

func TestCheckEmailPassesEveryOption(t *testing.T) {
	var got engine.Request
	hs := newHarness(t, func(c *Config, d *Deps) {
		d.Checker = &fakeChecker{fn: func(_ context.Context, req engine.Request) (engine.Result, error) {
			got = req
			return testResult(req.ToEmail, engine.Safe), nil
		}}
	})
	body := `{"to_email":"someone@example.com","from_email":"me@example.org","hello_name":"mx.example.org",
		"proxy":{"host":"proxy.example.net","port":1080,"username":"u","password":"p","timeout_ms":5000},
		"smtp_port":587,"smtp_timeout":{"secs":10,"nanos":5},"retries":2,
		"gmail_verif_method":"Smtp","hotmailb2b_verif_method":"Api","hotmailb2c_verif_method":"Headless","yahoo_verif_method":"skip",
		"check_gravatar":true,"unknown_field":{"ignored":true}}`
	r := hs.do(t, "POST", "/v1/check_email", body, nil)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	retries := 2
	want := engine.Request{
		ToEmail: "someone@example.com", FromEmail: "me@example.org", HelloName: "mx.example.org",
		Proxy:    &engine.RequestProxy{Host: "proxy.example.net", Port: 1080, Username: "u", Password: "p", TimeoutMS: 5000},
		SMTPPort: 587, SMTPTimeout: &engine.Duration{Secs: 10, Nanos: 5}, Retries: &retries,
		GmailVerifMethod: "Smtp", HotmailB2BVerifMethod: "Api", HotmailB2CVerifMethod: "Headless", YahooVerifMethod: "skip",
		CheckGravatar: true,
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if string(gb) != string(wb) {
		t.Errorf("engine got\n%s\nwant\n%s", gb, wb)
	}
}

func TestCheckEmailInline(t *testing.T) {
	for _, path := range []string{"/v0/check_email", "/v1/check_email"} {
		t.Run(path, func(t *testing.T) {
			hs := newHarness(t, nil)
			r := hs.do(t, "POST", path, `{"to_email":"someone@example.com"}`, nil)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			want, _ := json.Marshal(testResult("someone@example.com", engine.Safe))
			if string(r.body) != string(want) {
				t.Errorf("body\n%s\nwant\n%s", r.body, want)
			}
			if len(hs.metrics.seen) != 1 || hs.metrics.seen[0] != engine.Safe {
				t.Errorf("metrics saw %v", hs.metrics.seen)
			}
		})
	}
}

func TestCheckEmailInvalidSyntaxIsAResultNotAnError(t *testing.T) {
	hs := newHarness(t, nil)
	r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"not an address"}`, nil)
	if r.status != 200 || r.json(t)["is_reachable"] != "invalid" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if c := r.header.Get(headerCache); c != "off" {
		t.Errorf("cache header %q: invalid syntax is never cached", c)
	}
}

func TestCheckEmailCache(t *testing.T) {
	tests := []struct {
		name       string
		first      string
		second     string
		header1    map[string]string
		header2    map[string]string
		verdict    engine.Reachability
		retry      bool
		ttl        time.Duration
		advance    time.Duration
		wantCalls  int64
		wantHeader string // X-Mailprobe-Cache of the second answer
	}{
		{name: "hit", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com"}`, verdict: engine.Safe, ttl: time.Hour, wantCalls: 1, wantHeader: "hit"},
		{name: "invalid mailbox is cached", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com"}`, verdict: engine.Invalid, ttl: time.Hour, wantCalls: 1, wantHeader: "hit"},
		{name: "risky is cached", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com"}`, verdict: engine.Risky, ttl: time.Hour, wantCalls: 1, wantHeader: "hit"},
		{name: "unknown is not cached", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com"}`, verdict: engine.Unknown, ttl: time.Hour, wantCalls: 2, wantHeader: "miss"},
		{name: "expired", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com"}`, verdict: engine.Safe, ttl: time.Hour, advance: time.Hour, wantCalls: 2, wantHeader: "miss"},
		{name: "ttl 0 disables", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com"}`, verdict: engine.Safe, ttl: 0, wantCalls: 2, wantHeader: "off"},
		{name: "skip_cache", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com","skip_cache":true}`, verdict: engine.Safe, ttl: time.Hour, wantCalls: 2, wantHeader: "bypass"},
		{name: "Cache-Control no-cache", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com"}`, header2: map[string]string{"Cache-Control": "max-age=0, No-Cache"}, verdict: engine.Safe, ttl: time.Hour, wantCalls: 2, wantHeader: "bypass"},
		{name: "Cache-Control no-store still reads", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com"}`, header2: map[string]string{"Cache-Control": "no-store"}, verdict: engine.Safe, ttl: time.Hour, wantCalls: 1, wantHeader: "hit"},
		{name: "Cache-Control no-store does not write", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com"}`, header1: map[string]string{"Cache-Control": "No-Store"}, verdict: engine.Safe, ttl: time.Hour, wantCalls: 2, wantHeader: "miss"},
		{name: "Cache-Control no-cache, no-store", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com"}`, header1: map[string]string{"Cache-Control": "no-cache, no-store"}, header2: map[string]string{"Cache-Control": "no-cache, no-store"}, verdict: engine.Safe, ttl: time.Hour, wantCalls: 2, wantHeader: "bypass"},
		{name: "other options, other key", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com","from_email":"x@example.org"}`, verdict: engine.Safe, ttl: time.Hour, wantCalls: 2, wantHeader: "miss"},
		{name: "timeouts and retries share the key", first: `{"to_email":"a@example.com"}`, second: `{"to_email":"a@example.com","retries":3,"smtp_timeout":{"secs":5,"nanos":0}}`, verdict: engine.Safe, ttl: time.Hour, wantCalls: 1, wantHeader: "hit"},
		{name: "gmail normalization shares the key", first: `{"to_email":"john.doe+news@gmail.com"}`, second: `{"to_email":"JohnDoe@googlemail.com"}`, verdict: engine.Safe, ttl: time.Hour, wantCalls: 1, wantHeader: "hit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, func(c *Config, d *Deps) {
				c.CacheTTL = tt.ttl
				d.Checker = &fakeChecker{fn: func(_ context.Context, req engine.Request) (engine.Result, error) {
					return testResult(req.ToEmail, tt.verdict), nil
				}}
			})
			first := hs.do(t, "POST", "/v1/check_email", tt.first, tt.header1)
			hs.clock.Add(tt.advance)
			second := hs.do(t, "POST", "/v1/check_email", tt.second, tt.header2)
			if first.status != 200 || second.status != 200 {
				t.Fatalf("statuses %d %d", first.status, second.status)
			}
			if calls := hs.checker.calls.Load(); calls != tt.wantCalls {
				t.Errorf("engine called %d times, want %d", calls, tt.wantCalls)
			}
			if got := second.header.Get(headerCache); got != tt.wantHeader {
				t.Errorf("X-Mailprobe-Cache %q, want %q", got, tt.wantHeader)
			}
			var req engine.Request
			_ = json.Unmarshal([]byte(tt.second), &req)
			want, _ := json.Marshal(testResult(req.ToEmail, tt.verdict))
			if tt.wantHeader == "hit" && tt.first == tt.second && string(second.body) != string(first.body) {
				t.Errorf("hit body differs:\n%s\n%s", second.body, first.body)
			}
			if tt.wantHeader == "hit" && tt.first != tt.second {
				// Another spelling: the answer describes this input.
				var got, exp engine.Result
				_ = json.Unmarshal(second.body, &got)
				_ = json.Unmarshal(want, &exp)
				if got.Input != exp.Input || *got.Syntax.Address != *exp.Syntax.Address || got.Syntax.Username != exp.Syntax.Username {
					t.Errorf("hit for another spelling not rewritten:\n%s", second.body)
				}
			}
		})
	}
}

func TestCheckEmailCacheCountsEngineCalls(t *testing.T) {
	hs := newHarness(t, nil)
	for range 3 {
		if r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"a@example.com"}`, nil); r.status != 200 {
			t.Fatalf("status %d", r.status)
		}
	}
	if n := hs.checker.calls.Load(); n != 1 {
		t.Errorf("engine called %d times, want 1 (then two cache hits)", n)
	}
	if len(hs.metrics.seen) != 1 {
		t.Errorf("metrics observed %d verifications, want 1: cache hits are not verifications", len(hs.metrics.seen))
	}
}

// greylistedChecker answers as the engine does for a greylisted address.
func greylistedChecker(_ context.Context, req engine.Request) (engine.Result, error) {
	res := testResult(req.ToEmail, engine.Unknown)
	res.SMTP = engine.Failed[engine.SMTP](&engine.StepError{Type: engine.ErrTypeSMTP, Cause: "greylisted", Message: "450 4.7.1 try again in 300 seconds"})
	res.Retry = &engine.RetryHint{After: 5 * time.Minute, Reason: "greylisted"}
	return res, nil
}

// slowChecker never concludes: it answers the result so far (a Timeout)
// when the inline budget ends.
func slowChecker(ctx context.Context, req engine.Request) (engine.Result, error) {
	<-ctx.Done()
	res := testResult(req.ToEmail, engine.Unknown)
	res.SMTP = engine.Failed[engine.SMTP](&engine.StepError{Type: engine.ErrTypeTimeout, Cause: engine.CauseTimeout, Timeout: &engine.Duration{Secs: 45}})
	return res, ctx.Err()
}

// checkQueuedJob checks that job id is the single-shot job of
// late@example.com from me@example.org, queued once with delay, and that
// its status URL answers 202 until the worker stores a result, then 200.
func checkQueuedJob(t *testing.T, hs *harness, id string, delay time.Duration) {
	t.Helper()
	msgs, delays := hs.queue.sent()
	if len(msgs) != 1 || delays[0] != delay {
		t.Fatalf("queued %v with delays %v, want one message after %v", msgs, delays, delay)
	}
	msg := msgs[0]
	var req engine.Request
	if err := json.Unmarshal(msg.Request, &req); err != nil || req.FromEmail != "me@example.org" || req.ToEmail != "late@example.com" {
		t.Errorf("queued request %s (%v)", msg.Request, err)
	}
	if msg.Version != 1 || msg.JobID != id || len(msg.Items) != 1 || msg.Items[0].Email != "late@example.com" || msg.Items[0].Index != 0 {
		t.Errorf("queued message %+v", msg)
	}
	job, err := hs.store.GetJob(context.Background(), id)
	if err != nil || job.Total != 1 || !job.SingleShot {
		t.Fatalf("job %+v, %v", job, err)
	}
	pending := hs.do(t, "GET", "/v1/check_email/"+id, "", nil)
	if pending.status != http.StatusAccepted || pending.json(t)["job_status"] != "Running" {
		t.Fatalf("status before the worker: %d %s", pending.status, pending.body)
	}
	final := testResult("late@example.com", engine.Safe)
	hs.storeResult(t, id, 0, final)
	done := hs.do(t, "GET", "/v1/check_email/"+id, "", nil)
	want, _ := json.Marshal(final)
	if done.status != 200 || string(done.body) != string(want) {
		t.Fatalf("status after the worker: %d %s", done.status, done.body)
	}
}

// TestCheckEmailAnswersAsReacher: a check that does not conclude (the
// server greylists, or the inline budget ends) is answered 200 with the
// result so far, as Reacher answers, and retried in the background: the
// 200 names the retry's status URL in X-Mailprobe-Status-Url.
func TestCheckEmailAnswersAsReacher(t *testing.T) {
	tests := []struct {
		name      string
		fn        func(context.Context, engine.Request) (engine.Result, error)
		wantType  string
		wantDelay time.Duration
	}{
		{"greylisted: retried after the server's delay", greylistedChecker, engine.ErrTypeSMTP, 5 * time.Minute},
		{"inline budget spent: retried at once", slowChecker, engine.ErrTypeTimeout, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, func(c *Config, d *Deps) {
				c.InlineBudget = 20 * time.Millisecond
				d.Checker = &fakeChecker{fn: tt.fn}
			})
			body := `{"to_email":"late@example.com","from_email":"me@example.org"}`
			r := hs.do(t, "POST", "/v1/check_email", body, nil)
			if r.status != http.StatusOK {
				t.Fatalf("status %d, want 200 as Reacher: %s", r.status, r.body)
			}
			var res engine.Result
			if err := json.Unmarshal(r.body, &res); err != nil || res.IsReachable != engine.Unknown || res.SMTP.Err == nil || res.SMTP.Err.Type != tt.wantType {
				t.Fatalf("result %s (%v), want unknown with a %s error", r.body, err, tt.wantType)
			}
			if got := r.header.Get(headerStatusURL); got != "/v1/check_email/1001" {
				t.Fatalf("%s %q, want the background retry's status URL", headerStatusURL, got)
			}
			if r.header.Get(headerPreferenceApplied) != "" {
				t.Errorf("Preference-Applied without a Prefer")
			}
			checkQueuedJob(t, hs, "1001", tt.wantDelay)
			if len(hs.metrics.seen) != 0 {
				t.Errorf("a check retried in the background was observed as a verification")
			}
		})
	}
}

// TestCheckEmailRespondAsync: Prefer: respond-async (RFC 7240) gets 202
// and a status URL, at once, or after at most wait=N seconds inline: the
// engine's deadline is the sooner of wait and the inline budget.
func TestCheckEmailRespondAsync(t *testing.T) {
	const budget = 2 * time.Second
	tests := []struct {
		name       string
		prefer     string
		fn         func(context.Context, engine.Request) (engine.Result, error)
		wantStatus int
		wantDelay  time.Duration
		wantCalls  int64
		maxAllowed time.Duration // the most time the engine may be given
	}{
		{"respond-async: queued at once", "respond-async", greylistedChecker, 202, 0, 0, 0},
		{"wait=0 is at once too", "respond-async, wait=0", greylistedChecker, 202, 0, 0, 0},
		{"with wait, greylisted: queued after the server's delay", "respond-async; x=1, wait=10", greylistedChecker, 202, 5 * time.Minute, 1, budget},
		{"with wait, not concluded: queued at once", "wait=1,respond-async", slowChecker, 202, 0, 1, time.Second},
		{"with wait, concluded: the result", "RESPOND-ASYNC, wait=10", func(_ context.Context, req engine.Request) (engine.Result, error) {
			return testResult(req.ToEmail, engine.Safe), nil
		}, 200, 0, 1, budget},
		{"other preferences are ignored", "return=minimal", func(_ context.Context, req engine.Request) (engine.Result, error) {
			return testResult(req.ToEmail, engine.Safe), nil
		}, 200, 0, 1, budget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, func(c *Config, d *Deps) {
				c.InlineBudget = budget
				d.Checker = &fakeChecker{fn: tt.fn}
			})
			if tt.fn == nil {
				t.Fatal("no checker")
			}
			body := `{"to_email":"late@example.com","from_email":"me@example.org"}`
			r := hs.do(t, "POST", "/v1/check_email", body, map[string]string{"Prefer": tt.prefer})
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if n := hs.checker.calls.Load(); n != tt.wantCalls {
				t.Errorf("engine ran %d times, want %d", n, tt.wantCalls)
			}
			if got := time.Duration(hs.checker.allowed.Load()); tt.wantCalls > 0 && got > tt.maxAllowed {
				t.Errorf("the engine was given %v, more than %v", got, tt.maxAllowed)
			}
			if tt.wantStatus == 200 {
				if r.header.Get(headerPreferenceApplied) != "" || r.header.Get(headerStatusURL) != "" {
					t.Errorf("a concluded check answered with %v", r.header)
				}
				return
			}
			m := r.json(t)
			if m["job_id"] != float64(1001) || m["status_url"] != "/v1/check_email/1001" || r.header.Get("Location") != "/v1/check_email/1001" {
				t.Fatalf("202 body %s, Location %q", r.body, r.header.Get("Location"))
			}
			if got := r.header.Get(headerPreferenceApplied); got != "respond-async" {
				t.Errorf("Preference-Applied %q, want respond-async", got)
			}
			checkQueuedJob(t, hs, "1001", tt.wantDelay)
		})
	}
}

func TestCheckEmailWithoutQueueServesProvisionalResult(t *testing.T) {
	hs := newHarness(t, func(c *Config, d *Deps) {
		c.InlineBudget = time.Millisecond
		d.Jobs, d.Queue = nil, nil
		d.Checker = &fakeChecker{fn: func(ctx context.Context, req engine.Request) (engine.Result, error) {
			<-ctx.Done()
			res := testResult(req.ToEmail, engine.Unknown)
			res.SMTP = engine.Failed[engine.SMTP](&engine.StepError{Type: engine.ErrTypeTimeout, Timeout: &engine.Duration{Secs: 45}})
			return res, ctx.Err()
		}}
	})
	r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"a@example.com"}`, nil)
	if r.status != 200 || r.json(t)["is_reachable"] != "unknown" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
}

func TestCheckStatusErrors(t *testing.T) {
	hs := newHarness(t, nil)
	if err := hs.store.CreateJob(context.Background(), storeJob("77", 3)); err != nil {
		t.Fatal(err)
	}
	// A bulk job of one address, finished: still not a single check.
	if err := hs.store.CreateJob(context.Background(), storeJob("78", 1)); err != nil {
		t.Fatal(err)
	}
	hs.storeResult(t, "78", 0, testResult("a@x.test", engine.Safe))
	tests := []struct {
		name, target string
		status       int
	}{
		{"unknown job", "/v1/check_email/424242", 404},
		{"bulk job is not a single check", "/v1/check_email/77", 404},
		{"bulk job of one address is not a single check", "/v1/check_email/78", 404},
		{"malformed id", "/v1/check_email/" + strings.Repeat("9", 65), 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hs.do(t, "GET", tt.target, "", nil)
			if r.status != tt.status || r.errorText(t) != "Job not found." {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		})
	}
}

// TestInternalErrorsDoNotLeak: a queue failure never shows its text. With
// Prefer: respond-async there is no answer without the queue (500, the
// request id only); otherwise the inline result is still the answer, as
// Reacher's would be, without a status URL, and the failure is logged.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	hs := newHarness(t, func(c *Config, d *Deps) {
		c.InlineBudget = time.Millisecond
		d.Checker = &fakeChecker{fn: slowChecker}
		d.Queue = &fakeQueue{err: errors.New("sqs: queue https://sqs.internal/123/secret-queue does not exist")}
	})
	r := hs.do(t, "POST", "/v1/check_email", `{"to_email":"a@example.com"}`, map[string]string{"Prefer": "respond-async"})
	if r.status != 500 || strings.Contains(string(r.body), "sqs") {
		t.Fatalf("respond-async: got %d %s", r.status, r.body)
	}
	r = hs.do(t, "POST", "/v1/check_email", `{"to_email":"a@example.com"}`, nil)
	if r.status != 200 || r.header.Get(headerStatusURL) != "" || strings.Contains(string(r.body), "sqs") {
		t.Fatalf("inline: got %d %v %s", r.status, r.header, r.body)
	}
	logged := false
	for _, l := range hs.logs.lines(t) {
		logged = logged || l["msg"] == "background retry not queued"
	}
	if !logged {
		t.Error("the lost background retry was not logged")
	}
}
