package engine

import (
	"bytes"
	"encoding/json"
	"testing"
)

// reacherExample is the result of reacher-compat.md §1, byte for byte after
// compaction: decoding it and encoding it again must give it back unchanged.
const reacherExample = `{"input":"someone@gmail.com","is_reachable":"safe",
 "misc":{"is_disposable":false,"is_role_account":false,"is_b2c":true,"gravatar_url":null,"haveibeenpwned":null},
 "mx":{"accepts_mail":true,"records":["alt2.gmail-smtp-in.l.google.com.","gmail-smtp-in.l.google.com."]},
 "smtp":{"can_connect_smtp":true,"has_full_inbox":false,"is_catch_all":false,"is_deliverable":true,"is_disabled":false},
 "syntax":{"address":"someone@gmail.com","domain":"gmail.com","is_valid_syntax":true,"username":"someone",
   "normalized_email":"someone@gmail.com","suggestion":null},
 "debug":{"backend_name":"backend-dev","start_time":"2025-07-26T16:13:57.755749483Z",
   "end_time":"2025-07-26T16:14:04.614758809Z","duration":{"secs":6,"nanos":859009326},
   "smtp":{"verif_method":{"type":"Smtp","host":"gmail-smtp-in.l.google.com.",
     "verif_method":{"from_email":"hello@localhost","hello_name":"localhost","proxy":null,"smtp_port":25,
       "smtp_timeout":null,"retries":1}}}}}`

func TestResultRoundTripsReacherExample(t *testing.T) {
	var want bytes.Buffer
	if err := json.Compact(&want, []byte(reacherExample)); err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := json.Unmarshal(want.Bytes(), &r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("round trip changed the JSON\n got: %s\nwant: %s", got, want.Bytes())
	}
}

func TestStepErrorShape(t *testing.T) {
	tests := []struct {
		name string
		step Step[SMTP]
		want string
	}{
		{"plain", Failed[SMTP](&StepError{Type: ErrTypeIO, Message: "connection reset"}),
			`{"error":{"type":"IOError","message":"connection reset"}}`},
		// Reacher's Timeout(Duration): the message is the time allowed.
		{"timeout", Failed[SMTP](&StepError{Type: ErrTypeTimeout, Cause: CauseTimeout, Timeout: &Duration{Secs: 45, Nanos: 5}}),
			`{"error":{"type":"Timeout","message":{"secs":45,"nanos":5}},"cause":"timeout"}`},
		{"with description and cause", Failed[SMTP](&StepError{Type: ErrTypeSMTP, Message: "554 5.7.1 listed", Description: "IpBlacklisted", Cause: "blocked"}),
			`{"error":{"type":"AsyncSmtpError","message":"554 5.7.1 listed"},"description":"IpBlacklisted","cause":"blocked"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.step)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			var back Step[SMTP]
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if back.Err == nil || back.Err.Type != tt.step.Err.Type || back.Err.Message != tt.step.Err.Message ||
				back.Err.Description != tt.step.Err.Description || back.Err.Cause != tt.step.Err.Cause ||
				(back.Err.Timeout == nil) != (tt.step.Err.Timeout == nil) ||
				(back.Err.Timeout != nil && *back.Err.Timeout != *tt.step.Err.Timeout) {
				t.Errorf("decoded %+v, want %+v", back.Err, tt.step.Err)
			}
		})
	}
}

// TestErrorVocabularyIsReachers: every error type the engine can write is
// a variant of Reacher's enums (SmtpError, MxError), which strict clients
// deserialise.
func TestErrorVocabularyIsReachers(t *testing.T) {
	reacher := map[string]bool{
		"AsyncSmtpError": true, "IOError": true, "Timeout": true, "Socks5": true, "AnyhowError": true,
		"YahooError": true, "GmailError": true, "HeadlessError": true, "Microsoft365Error": true,
		"ResolveError": true, "IoError": true,
	}
	for _, typ := range []string{ErrTypeSMTP, ErrTypeIO, ErrTypeTimeout, ErrTypeSocks5, ErrTypeAnyhow, ErrTypeResolve, ErrTypeMXIO} {
		if !reacher[typ] {
			t.Errorf("error type %q is not one of Reacher's", typ)
		}
	}
}
