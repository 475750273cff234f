package reacher

import (
	"strings"
	"testing"
)

// TestSchemaCatches: the schema check is not vacuous: each departure from
// Reacher's shape that a strict client would trip on is reported.
func TestSchemaCatches(t *testing.T) {
	ok := `{"input":"a@b.c","is_reachable":"safe",` +
		`"misc":{"is_disposable":false,"is_role_account":false,"is_b2c":false,"gravatar_url":null,"haveibeenpwned":null},` +
		`"mx":{"accepts_mail":true,"records":["mx.b.c."]},` +
		`"smtp":{"can_connect_smtp":true,"has_full_inbox":false,"is_catch_all":false,"is_deliverable":true,"is_disabled":false},` +
		`"syntax":{"address":"a@b.c","domain":"b.c","is_valid_syntax":true,"username":"a","normalized_email":"a@b.c","suggestion":null},` +
		`"debug":{"backend_name":"x","start_time":"2025-07-26T16:13:57.755749483Z","end_time":"2025-07-26T16:14:04.614758809Z",` +
		`"duration":{"secs":6,"nanos":859009326},"smtp":{"verif_method":{"type":"Smtp","host":"mx.b.c.","verif_method":` +
		`{"from_email":"hello@localhost","hello_name":"localhost","proxy":null,"smtp_port":25,"smtp_timeout":null,"retries":1}}}}}`
	if errs := validate([]byte(ok), checkEmailOutput); len(errs) != 0 {
		t.Fatalf("Reacher's own example is refused: %v", errs)
	}
	tests := []struct{ name, from, to, want string }{
		{"unknown enum type", `"smtp":{"can_connect_smtp":true,"has_full_inbox":false,"is_catch_all":false,"is_deliverable":true,"is_disabled":false}`,
			`"smtp":{"error":{"type":"Greylisted","message":"450"}}`, "matches none"},
		{"unknown description", `"smtp":{"can_connect_smtp":true,"has_full_inbox":false,"is_catch_all":false,"is_deliverable":true,"is_disabled":false}`,
			`"smtp":{"error":{"type":"AsyncSmtpError","message":"554"},"description":"Blocked"}`, "matches none"},
		{"timeout message not a duration", `"smtp":{"can_connect_smtp":true,"has_full_inbox":false,"is_catch_all":false,"is_deliverable":true,"is_disabled":false}`,
			`"smtp":{"error":{"type":"Timeout","message":"timed out"}}`, "matches none"},
		{"proxy as an object", `"proxy":null`, `"proxy":{"host":"p","port":1080}`, "proxy"},
		{"verdict", `"is_reachable":"safe"`, `"is_reachable":"deliverable"`, "not one of Reacher's"},
		{"undocumented field", `"input":"a@b.c",`, `"input":"a@b.c","score":1,`, `"score" is neither`},
		{"order", `"input":"a@b.c","is_reachable":"safe",`, `"is_reachable":"safe","input":"a@b.c",`, "in order"},
		{"missing field", `"haveibeenpwned":null`, `"pwned":null`, "missing"},
		{"port range", `"smtp_port":25`, `"smtp_port":70000`, "not an integer"},
	}
	for _, tt := range tests {
		doc := strings.Replace(ok, tt.from, tt.to, 1)
		if doc == ok {
			t.Fatalf("%s: the mutation did not apply", tt.name)
		}
		errs := strings.Join(validate([]byte(doc), checkEmailOutput), "\n")
		if !strings.Contains(errs, tt.want) {
			t.Errorf("%s: errors %q, want one containing %q", tt.name, errs, tt.want)
		}
	}
}
