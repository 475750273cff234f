package queue

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Message
	}{
		{"minimal", `{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x.com"}]}`,
			Message{Version: 1, JobID: "j", Items: []Item{{Index: 0, Email: "a@x.com"}}}},
		{"full", `{"version":1,"job_id":"j","items":[{"index":3,"email":"a@X.com"},{"index":1,"email":"b@x.COM"}],
			"request":{"from_email":"p@q.r"},"webhook":{"on_each_email":{"url":"http://h"}},"attempt":2}`,
			Message{Version: 1, JobID: "j", Items: []Item{{Index: 3, Email: "a@X.com"}, {Index: 1, Email: "b@x.COM"}},
				Request: json.RawMessage(`{"from_email":"p@q.r"}`), Webhook: json.RawMessage(`{"on_each_email":{"url":"http://h"}}`), Attempt: 2}},
		{"no at sign is a domain of its own", `{"version":1,"job_id":"j","items":[{"index":0,"email":"nobody"}]}`,
			Message{Version: 1, JobID: "j", Items: []Item{{Index: 0, Email: "nobody"}}}},
		{"several domains", `{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x.com"},{"index":1,"email":"b@y.com"},{"index":2,"email":"nobody"}]}`,
			Message{Version: 1, JobID: "j", Items: []Item{{Index: 0, Email: "a@x.com"}, {Index: 1, Email: "b@y.com"}, {Index: 2, Email: "nobody"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Reason
	}{
		{"not json", `{"version":1,`, ReasonJSON},
		{"array", `[1]`, ReasonJSON},
		{"null", `null`, ReasonJSON},
		{"no version", `{"job_id":"j","items":[{"index":0,"email":"a@x"}]}`, ReasonSchema},
		{"version 2", `{"version":2,"job_id":"j","items":[{"index":0,"email":"a@x"}]}`, ReasonVersion},
		{"version 0", `{"version":0,"job_id":"j","items":[{"index":0,"email":"a@x"}]}`, ReasonVersion},
		{"unknown field", `{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x"}],"extra":1}`, ReasonSchema},
		{"unknown item field", `{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x","x":1}]}`, ReasonSchema},
		{"wrong type", `{"version":1,"job_id":7,"items":[{"index":0,"email":"a@x"}]}`, ReasonSchema},
		{"empty job", `{"version":1,"job_id":"","items":[{"index":0,"email":"a@x"}]}`, ReasonSchema},
		{"no items", `{"version":1,"job_id":"j","items":[]}`, ReasonNoItems},
		{"items missing", `{"version":1,"job_id":"j"}`, ReasonNoItems},
		{"negative index", `{"version":1,"job_id":"j","items":[{"index":-1,"email":"a@x"}]}`, ReasonIndex},
		{"fractional index", `{"version":1,"job_id":"j","items":[{"index":1.5,"email":"a@x"}]}`, ReasonSchema},
		{"huge index", `{"version":1,"job_id":"j","items":[{"index":9007199254740992,"email":"a@x"}]}`, ReasonIndex},
		{"repeated index", `{"version":1,"job_id":"j","items":[{"index":1,"email":"a@x"},{"index":1,"email":"b@x"}]}`, ReasonIndex},
		{"empty email", `{"version":1,"job_id":"j","items":[{"index":0,"email":" "}]}`, ReasonSchema},
		{"request not object", `{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x"}],"request":[1]}`, ReasonSchema},
		{"negative attempt", `{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x"}],"attempt":-1}`, ReasonSchema},
		{"trailing data", `{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x"}]} {}`, ReasonJSON},
		{"reacher no email", `{"input":{},"job_id":"single_shot"}`, ReasonSchema},
		{"reacher bad job", `{"input":{"to_email":"a@x"},"job_id":"bulk"}`, ReasonSchema},
		{"reacher no job", `{"input":{"to_email":"a@x"}}`, ReasonSchema},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.body))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode = %v, want a *DecodeError", err)
			}
			if de.Reason != tt.want {
				t.Errorf("Decode reason = %s (%v), want %s", de.Reason, err, tt.want)
			}
		})
	}
}

func TestDecodeReacher(t *testing.T) {
	bulk := `{"input":{"to_email":"Someone@Example.com","from_email":"p@q.r","smtp_port":2525},` +
		`"job_id":{"bulk":42},"webhook":{"on_each_email":{"url":"http://h","headers":{},"extra":null}}}`
	got, err := Decode([]byte(bulk))
	if err != nil {
		t.Fatalf("Decode(bulk): %v", err)
	}
	want := Message{Version: 1, JobID: "reacher-bulk-42",
		Items:   []Item{{Index: ReacherIndex("Someone@Example.com"), Email: "Someone@Example.com"}},
		Request: json.RawMessage(`{"from_email":"p@q.r","smtp_port":2525}`),
		Webhook: json.RawMessage(`{"on_each_email":{"url":"http://h","headers":{},"extra":null}}`)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode(bulk) = %+v, want %+v", got, want)
	}
	if i := got.Items[0].Index; i < 1e15 || i >= 9e15 {
		t.Errorf("reacher index %d, want 16 digits", i)
	}
	if ReacherIndex("a@x.com") == ReacherIndex("b@x.com") {
		t.Errorf("two addresses share an index")
	}

	single := `{"input":{"to_email":"a@x.com"},"job_id":"single_shot","webhook":null}`
	m1, err1 := Decode([]byte(single))
	m2, err2 := Decode([]byte(single))
	other, err3 := Decode([]byte(strings.Replace(single, "a@x", "b@x", 1)))
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatalf("Decode(single): %v %v %v", err1, err2, err3)
	}
	if !strings.HasPrefix(m1.JobID, "reacher-single-") || m1.JobID != m2.JobID || m1.JobID == other.JobID {
		t.Errorf("single-shot ids %q %q %q: want stable per body, distinct across bodies", m1.JobID, m2.JobID, other.JobID)
	}
	if m1.Items[0] != (Item{Index: 0, Email: "a@x.com"}) || m1.Request != nil || m1.Webhook != nil {
		t.Errorf("Decode(single) = %+v", m1)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	m := Message{JobID: "j", Items: []Item{{Index: 5, Email: "a@x.com", Retry: &RetryState{Due: time.Date(2030, 1, 1, 0, 0, 1, 0, time.UTC), Temporary: 1, AvoidProxy: "p:1080"}}}, Request: json.RawMessage(`{"hello_name":"h"}`), Attempt: 1}
	body, err := Encode(m)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	got, err := Decode(body)
	m.Version = Version
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("Decode(Encode(m)) = %+v, %v; want %+v", got, err, m)
	}
	if _, err := Encode(Message{JobID: "j"}); !IsDecodeError(err) {
		t.Errorf("Encode(no items) = %v, want a *DecodeError", err)
	}
	big := Message{JobID: "j", Items: []Item{{Index: 0, Email: strings.Repeat("a", MaxBodyBytes) + "@x"}}}
	if _, err := Encode(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Encode(big) = %v, want ErrTooLarge", err)
	}
}

// TestSchemaFile checks docs/message.schema.json agrees with Decode on
// valid and invalid bodies (the rules it can express).
func TestSchemaFile(t *testing.T) {
	f, err := os.Open("../../docs/message.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("schema: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("message.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("message.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	valid, _ := Encode(Message{JobID: "j", Items: []Item{{Index: 1, Email: "a@x"}, {Index: 2, Email: "b@x"}}, Webhook: json.RawMessage(`{}`)})
	tests := []struct {
		body string
		ok   bool
	}{
		{string(valid), true},
		{`{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x"}]}`, true},
		{`{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x","retry":{"due":"2030-01-01T00:00:00Z","temporary":2}}]}`, true},
		{`{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x","retry":{"due":"2030-01-01T00:00:00Z","temporary":-1}}]}`, false},
		{`{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x","retry":{"due":"2030-01-01T00:00:00Z","tries":1}}]}`, false},
		{`{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x"},{"index":1,"email":"b@y"}]}`, true},
		{`{"version":2,"job_id":"j","items":[{"index":0,"email":"a@x"}]}`, false},
		{`{"version":1,"job_id":"j","items":[]}`, false},
		{`{"version":1,"job_id":"j","items":[{"index":-1,"email":"a@x"}]}`, false},
		{`{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x"}],"extra":1}`, false},
	}
	for _, tt := range tests {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); (err == nil) != tt.ok {
			t.Errorf("schema on %s: %v, want ok=%v", tt.body, err, tt.ok)
		}
		if _, err := Decode([]byte(tt.body)); (err == nil) != tt.ok {
			t.Errorf("Decode(%s) = %v, want ok=%v", tt.body, err, tt.ok)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"job_id":"j","items":[{"index":0,"email":"a@x"}]}`))
	f.Add([]byte(`{"input":{"to_email":"a@x"},"job_id":{"bulk":1}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Decode(body)
		if err != nil {
			if !IsDecodeError(err) {
				t.Fatalf("Decode error %v is not a *DecodeError", err)
			}
			return
		}
		// Whatever Decode accepts, Encode writes and Decode reads back.
		again, err := Encode(m)
		if err != nil && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Encode(Decode(body)) = %v", err)
		}
		if err == nil {
			if _, err := Decode(again); err != nil {
				t.Fatalf("Decode(Encode(m)) = %v", err)
			}
		}
	})
}
