package reacher

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	rie.Cleanup()
	os.Exit(code)
}

// TestReacherClient replays what a Reacher client sends, every documented
// request field included, against `mailprobe serve` over real HTTP and
// against the API Lambda function under the RIE, and checks each answer's
// status and body, field by field, against Reacher's schema
// (schema_test.go). Where mailprobe answers differently on purpose (401
// for a wrong secret, 404 for an unknown job), the test says so and the
// README's migration table explains why.
func TestReacherClient(t *testing.T) {
	w := startWorld(t)
	targets := []target{startServe(t, w), startLambda(t, w)}
	for _, tg := range targets {
		t.Run(tg.name(), func(t *testing.T) {
			t.Run("check_email", func(t *testing.T) { checkEmail(t, tg, w) })
			t.Run("errors", func(t *testing.T) { clientErrors(t, tg) })
			t.Run("bulk v0", func(t *testing.T) { bulkV0(t, tg, w) })
			t.Run("bulk v1", func(t *testing.T) { bulkV1(t, tg, w) })
		})
	}
}

// expect checks a response's status and body against a shape, and
// returns the parsed body.
func expect(t *testing.T, what string, r response, status int, s shape) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %.500s", what, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	for _, e := range validate(r.body, s) {
		t.Errorf("%s: %s", what, e)
	}
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return m
}

// get walks a decoded JSON object along dotted keys.
func get(m map[string]any, path string) any {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = o[k]
	}
	return cur
}

// want compares fields of a decoded result.
func want(t *testing.T, what string, m map[string]any, fields map[string]any) {
	t.Helper()
	for path, v := range fields {
		if got := get(m, path); fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("%s: %s = %v, want %v", what, path, got, v)
		}
	}
}

func checkEmail(t *testing.T, tg target, w *world) {
	check := func(path, body string) response {
		return tg.do(t, request{method: http.MethodPost, path: path, body: body})
	}
	// Every field of Reacher's CheckEmailRequest (and of older clients'):
	// the request's own proxy (with the secret, as Reacher honours it),
	// its sender and name, the port and timeout, the provider methods and
	// Gravatar.
	before := w.reqProxy.Accepted()
	every := fmt.Sprintf(`{"to_email":"alice@compat.test","from_email":"verify@compat.test","hello_name":"mx-out.compat.test",`+
		`"proxy":{"host":%q,"port":%d,"username":"client","password":"client-pass","timeout_ms":5000},`+
		`"smtp_port":%d,"smtp_timeout":{"secs":10,"nanos":0},"retries":1,"gmail_verif_method":"Smtp",`+
		`"hotmailb2b_verif_method":"Smtp","hotmailb2c_verif_method":"Headless","yahoo_verif_method":"Api","check_gravatar":true}`,
		w.reqProxy.Host, w.reqProxy.Port, w.mail.Port())
	m := expect(t, "v1 every field", check("/v1/check_email", every), 200, checkEmailOutput)
	want(t, "v1 every field", m, map[string]any{
		"input": "alice@compat.test", "is_reachable": "safe", "smtp.is_deliverable": true,
		"debug.smtp.verif_method.type":                      "Smtp",
		"debug.smtp.verif_method.verif_method.from_email":   "verify@compat.test",
		"debug.smtp.verif_method.verif_method.hello_name":   "mx-out.compat.test",
		"debug.smtp.verif_method.verif_method.proxy":        "default", // Reacher's id for a request's proxy
		"debug.smtp.verif_method.verif_method.smtp_port":    w.mail.Port(),
		"debug.smtp.verif_method.verif_method.smtp_timeout": map[string]any{"secs": 10, "nanos": 0},
		"debug.backend_name":                                "compat",
	})
	if u, _ := get(m, "misc.gravatar_url").(string); !strings.HasPrefix(u, w.gravatar.URL+"/avatar/") {
		t.Errorf("check_gravatar: gravatar_url %v", get(m, "misc.gravatar_url"))
	}
	if w.reqProxy.Accepted() == before {
		t.Error("the request's proxy was not used")
	}

	tests := []struct {
		name, path, body string
		fields           map[string]any
	}{
		{"v0 minimal", "/v0/check_email", `{"to_email":"carol@compat.test"}`, map[string]any{
			"is_reachable": "safe", "misc.gravatar_url": nil, "mx.accepts_mail": true, "mx.records": []any{"mx.compat.test."},
			"syntax.address": "carol@compat.test", "syntax.domain": "compat.test", "syntax.username": "carol",
			"debug.smtp.verif_method.verif_method.proxy": "url1"}},
		{"no such mailbox", "/v1/check_email", `{"to_email":"bob@compat.test"}`, map[string]any{
			"is_reachable": "invalid", "smtp.can_connect_smtp": true, "smtp.is_deliverable": false}},
		{"role account", "/v1/check_email", `{"to_email":"admin@compat.test"}`, map[string]any{
			"is_reachable": "risky", "misc.is_role_account": true}},
		{"full inbox", "/v0/check_email", `{"to_email":"full@compat.test"}`, map[string]any{
			"is_reachable": "risky", "smtp.has_full_inbox": true}},
		{"blocked", "/v1/check_email", `{"to_email":"spam@compat.test"}`, map[string]any{
			"is_reachable": "unknown", "smtp.error.type": "AsyncSmtpError", "smtp.description": "IpBlacklisted",
			"smtp.cause": "blocked"}},
		{"no MX", "/v1/check_email", `{"to_email":"someone@nomx.test"}`, map[string]any{
			"is_reachable": "invalid", "mx.accepts_mail": false, "mx.records": []any{}}},
		{"invalid syntax", "/v1/check_email", `{"to_email":"not an address"}`, map[string]any{
			"is_reachable": "invalid", "syntax.is_valid_syntax": false, "syntax.address": nil, "syntax.domain": ""}},
	}
	for _, tt := range tests {
		m := expect(t, tt.name, check(tt.path, tt.body), 200, checkEmailOutput)
		want(t, tt.name, m, tt.fields)
	}

	// A server that never answers: Reacher's Timeout, its message the
	// time allowed, within the request; the check goes on in the
	// background, named by X-Mailprobe-Status-Url.
	slow := fmt.Sprintf(`{"to_email":"slow@compat.test","smtp_port":%d,"smtp_timeout":{"secs":1,"nanos":0}}`, w.tarpit.Port())
	r := check("/v1/check_email", slow)
	m = expect(t, "timeout", r, 200, checkEmailOutput)
	want(t, "timeout", m, map[string]any{"is_reachable": "unknown", "smtp.error.type": "Timeout",
		"smtp.error.message": map[string]any{"secs": 1, "nanos": 0}})
	if !strings.HasPrefix(r.header.Get("X-Mailprobe-Status-Url"), "/v1/check_email/") {
		t.Errorf("timeout: X-Mailprobe-Status-Url %q", r.header.Get("X-Mailprobe-Status-Url"))
	}
}

func clientErrors(t *testing.T, tg target) {
	post := func(path, body string, h map[string]string) response {
		return tg.do(t, request{method: http.MethodPost, path: path, body: body, header: h})
	}
	m := expect(t, "missing to_email", post("/v1/check_email", `{}`, nil), 400, errorBody)
	if m["error"] != "to_email field is required." {
		t.Errorf("missing to_email: %v, want Reacher's message", m["error"])
	}
	expect(t, "bad JSON", post("/v0/check_email", `{"to_email":`, nil), 400, errorBody)
	expect(t, "bad JSON", post("/v1/bulk", `{"input":["a@b.c",]}`, nil), 400, errorBody)
	expect(t, "empty bulk input", post("/v1/bulk", `{"input":[]}`, nil), 400, errorBody)
	expect(t, "empty bulk input", post("/v0/bulk", `{"input_type":"array","input":[]}`, nil), 400, errorBody)
	// Reacher answers 400 text here; mailprobe 401 JSON (migration table).
	for _, s := range []string{"wrong", ""} {
		expect(t, "secret "+strconv.Quote(s), post("/v1/check_email", `{"to_email":"a@compat.test"}`,
			map[string]string{"x-reacher-secret": s}), 401, errorBody)
		expect(t, "secret "+strconv.Quote(s), tg.do(t, request{method: http.MethodGet, path: "/v1/bulk/1",
			header: map[string]string{"x-reacher-secret": s}}), 401, errorBody)
	}
	// Reacher answers 400 or 500 here; mailprobe 404 (migration table).
	expect(t, "unknown job", tg.do(t, request{method: http.MethodGet, path: "/v0/bulk/12345"}), 404, errorBody)
	// /version needs no secret, as in Reacher.
	expect(t, "version", tg.do(t, request{method: http.MethodGet, path: "/version",
		header: map[string]string{"x-reacher-secret": ""}}), 200, versionBody)
}

// completed returns a condition that is true once the job is Completed.
func completed(t *testing.T, tg target, path string) func() bool {
	return func() bool {
		r := tg.do(t, request{method: http.MethodGet, path: path})
		var st struct {
			JobStatus string `json:"job_status"`
		}
		return r.status == 200 && json.Unmarshal(r.body, &st) == nil && st.JobStatus == "Completed"
	}
}

func createJob(t *testing.T, tg target, path, body string) string {
	t.Helper()
	m := expect(t, "create "+path, tg.do(t, request{method: http.MethodPost, path: path, body: body}), 200, bulkCreated)
	return strconv.FormatFloat(m["job_id"].(float64), 'f', -1, 64)
}

func bulkV0(t *testing.T, tg target, w *world) {
	before := w.reqProxy.Accepted()
	body := fmt.Sprintf(`{"input_type":"array","input":["alice@compat.test","bob@compat.test","full@compat.test","not an address"],`+
		`"proxy":{"host":%q,"port":%d,"username":"client","password":"client-pass"},`+
		`"hello_name":"mx-out.compat.test","from_email":"verify@compat.test","smtp_ports":[%d]}`,
		w.reqProxy.Host, w.reqProxy.Port, w.mail.Port())
	id := createJob(t, tg, "/v0/bulk", body)
	tg.settle(t, completed(t, tg, "/v0/bulk/"+id))
	st := expect(t, "v0 status", tg.do(t, request{method: http.MethodGet, path: "/v0/bulk/" + id}), 200, bulkStatus)
	want(t, "v0 status", st, map[string]any{"total_records": 4, "total_processed": 4, "job_status": "Completed",
		"summary": map[string]any{"total_safe": 1, "total_risky": 1, "total_invalid": 2, "total_unknown": 0}})
	if st["finished_at"] == nil {
		t.Error("v0 status: a completed job without finished_at")
	}
	res := expect(t, "v0 results", tg.do(t, request{method: http.MethodGet, path: "/v0/bulk/" + id + "/results"}), 200, bulkResults)
	checkInputs(t, "v0 results", res, []string{"alice@compat.test", "bob@compat.test", "full@compat.test", "not an address"})
	for _, r := range res["results"].([]any) {
		if v := get(r.(map[string]any), "debug.smtp.verif_method.verif_method.hello_name"); v != nil && v != "mx-out.compat.test" {
			t.Errorf("v0 options: hello_name %v", v)
		}
	}
	if w.reqProxy.Accepted() == before {
		t.Error("v0 bulk: the job's proxy was not used")
	}
	csvRows(t, "v0 csv", tg.do(t, request{method: http.MethodGet, path: "/v0/bulk/" + id + "/results", query: "format=csv"}), 4)
}

func bulkV1(t *testing.T, tg target, w *world) {
	input := []string{"alice@compat.test", "carol@compat.test", "bob@compat.test", "admin@compat.test", "spam@compat.test"}
	in, _ := json.Marshal(input)
	body := fmt.Sprintf(`{"input":%s,"webhook":{"on_each_email":{"url":%q,"headers":{"x-token":"t-%s"},"extra":{"target":%q}}}}`,
		in, w.hooks.url+"/hook", tg.name(), tg.name())
	id := createJob(t, tg, "/v1/bulk", body)
	tg.settle(t, completed(t, tg, "/v1/bulk/"+id))
	st := expect(t, "v1 status", tg.do(t, request{method: http.MethodGet, path: "/v1/bulk/" + id}), 200, bulkStatus)
	want(t, "v1 status", st, map[string]any{"total_records": 5, "total_processed": 5,
		"summary": map[string]any{"total_safe": 2, "total_risky": 1, "total_invalid": 1, "total_unknown": 1}})
	res := expect(t, "v1 results", tg.do(t, request{method: http.MethodGet, path: "/v1/bulk/" + id + "/results",
		query: "format=json&limit=2&offset=1"}), 200, bulkResults)
	checkInputs(t, "v1 results page", res, input[1:3])
	res = expect(t, "v1 results", tg.do(t, request{method: http.MethodGet, path: "/v1/bulk/" + id + "/results"}), 200, bulkResults)
	checkInputs(t, "v1 results", res, input)
	all := tg.do(t, request{method: http.MethodGet, path: "/v1/bulk/" + id + "/results", query: "format=csv"})
	csvRows(t, "v1 csv without limit", all, len(input))
	// Every row, as Reacher: streamed by serve; on Lambda, whose answers
	// are capped at 6 MB, through a 303 to the full export.
	if wantVia := map[string]int{"serve": 0, "lambda": http.StatusSeeOther}[tg.name()]; all.via != wantVia {
		t.Errorf("v1 csv without limit: followed a %d, want %d", all.via, wantVia)
	}
	csvRows(t, "v1 csv limit", tg.do(t, request{method: http.MethodGet, path: "/v1/bulk/" + id + "/results",
		query: "format=csv&limit=2"}), 2)

	// One webhook POST per address, Reacher's body, the job's headers.
	bodies, heads := w.hooks.received()
	n := 0
	for i, b := range bodies {
		var p struct{ Extra map[string]any }
		if json.Unmarshal(b, &p) != nil || p.Extra["target"] != tg.name() {
			continue
		}
		n++
		for _, e := range validate(b, webhookBody) {
			t.Errorf("webhook: %s", e)
		}
		if heads[i].Get("x-token") != "t-"+tg.name() || !strings.HasPrefix(heads[i].Get("Content-Type"), "application/json") {
			t.Errorf("webhook headers %v", heads[i])
		}
	}
	if n != len(input) {
		t.Errorf("%d webhook POSTs, want %d", n, len(input))
	}
}

// checkInputs checks the inputs of a results body, in order.
func checkInputs(t *testing.T, what string, res map[string]any, inputs []string) {
	t.Helper()
	var got []string
	for _, r := range res["results"].([]any) {
		got = append(got, r.(map[string]any)["input"].(string))
	}
	if !slices.Equal(got, inputs) {
		t.Errorf("%s: inputs %q, want %q", what, got, inputs)
	}
}

// csvRows checks a CSV answer against Reacher's columns and types.
func csvRows(t *testing.T, what string, r response, n int) {
	t.Helper()
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%s: %d %q: %.300s", what, r.status, r.header.Get("Content-Type"), r.body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(rows) == 0 || !slices.Equal(rows[0], csvColumns) {
		t.Fatalf("%s: %v, header %v, want Reacher's %v", what, err, rows, csvColumns)
	}
	if len(rows)-1 != n {
		t.Errorf("%s: %d rows, want %d", what, len(rows)-1, n)
	}
	bools := []int{2, 3, 5, 6, 7, 8, 9, 10, 11}
	for i, row := range rows[1:] {
		if !slices.Contains([]string{"safe", "risky", "invalid", "unknown"}, row[1]) {
			t.Errorf("%s row %d: is_reachable %q", what, i, row[1])
		}
		for _, c := range bools {
			if _, err := strconv.ParseBool(row[c]); err != nil {
				t.Errorf("%s row %d: %s = %q, want a boolean", what, i, csvColumns[c], row[c])
			}
		}
	}
}
