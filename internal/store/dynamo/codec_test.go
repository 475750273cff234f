package dynamo

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/store"
)

func TestOutcomeRoundTrip(t *testing.T) {
	until := time.Date(2030, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	tests := []store.Outcome{
		{},
		{Hop: 3, Stored: []store.Verdict{{Index: 0, Verdict: store.Safe}}},
		{Stored: []store.Verdict{{Index: 1, Verdict: store.Risky}, {Index: 7, Verdict: store.Invalid}, {Index: 8, Verdict: store.Unknown},
			{Index: 9, Verdict: store.Safe}, {Index: store.MaxIndex, Verdict: store.Invalid}},
			Parts: []store.Part{{Indices: []int{2, 3}, Reason: "politeness", Until: until}, {Indices: []int{4}, Reason: "greylisted", Until: until.Add(time.Hour)}}},
	}
	for i, want := range tests {
		var got store.Outcome
		if err := decodeOutcome(encodeOutcome(want), &got); err != nil {
			t.Fatalf("%d: decode: %v", i, err)
		}
		if len(want.Stored) == 0 {
			want.Stored = []store.Verdict{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d: round trip = %+v, want %+v", i, got, want)
		}
	}
}

func TestOutcomeCorrupt(t *testing.T) {
	good := encodeOutcome(store.Outcome{Stored: []store.Verdict{{Index: 5, Verdict: store.Safe}},
		Parts: []store.Part{{Indices: []int{6}, Reason: "r"}}})
	for _, b := range [][]byte{nil, {2}, good[:len(good)-1], append(append([]byte{}, good...), 0), {1, 0, 0xff, 0xff, 0xff}} {
		var o store.Outcome
		if err := decodeOutcome(b, &o); err == nil {
			t.Errorf("decodeOutcome(%x) accepted", b)
		}
	}
}

// FuzzDecodeOutcome: no input crashes the decoder or makes it allocate
// without bound, and what it accepts encodes back to the same bytes.
func FuzzDecodeOutcome(f *testing.F) {
	f.Add(encodeOutcome(store.Outcome{Hop: 1, Stored: []store.Verdict{{Index: 3, Verdict: store.Risky}},
		Parts: []store.Part{{Indices: []int{4, 9}, Reason: "deadline", Until: time.UnixMilli(1e12)}}}))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var o store.Outcome
		if decodeOutcome(b, &o) != nil {
			return
		}
		var again store.Outcome
		if err := decodeOutcome(encodeOutcome(o), &again); err != nil || !reflect.DeepEqual(o, again) {
			t.Fatalf("accepted %x as %+v, which does not round-trip (%v)", b, o, err)
		}
	})
}

func sampleRecords(n int) []store.Record {
	recs := make([]store.Record, n)
	for i := range recs {
		email := fmt.Sprintf("u%d.%d@gmail.com", i, 100000+i*7919)
		res, _ := json.Marshal(map[string]any{
			"input": email, "is_reachable": "safe",
			"misc":   map[string]any{"is_disposable": false, "is_role_account": false, "is_b2c": true, "gravatar_url": nil, "haveibeenpwned": nil},
			"mx":     map[string]any{"accepts_mail": true, "records": []string{"gmail-smtp-in.l.google.com."}},
			"smtp":   map[string]any{"can_connect_smtp": true, "has_full_inbox": false, "is_catch_all": false, "is_deliverable": true, "is_disabled": false},
			"syntax": map[string]any{"address": email, "domain": "gmail.com", "is_valid_syntax": true, "username": email[:len(email)-10], "normalized_email": email, "suggestion": nil},
			"debug": map[string]any{"backend_name": "mailprobe", "start_time": "2026-12-06T10:10:33.110575912Z", "end_time": "2026-12-06T10:10:48.011000443Z",
				"duration": map[string]any{"secs": 14, "nanos": 900424541 + i}},
		})
		recs[i] = store.Record{JobID: "j", Index: i * 3, Input: email, Normalized: email, IsReachable: store.Safe, Result: res,
			CreatedAt: time.Date(2026, 12, 6, 10, 10, 48, i, time.UTC), BackendName: "mailprobe", DurationMs: int64(14900 + i)}
	}
	return recs
}

func TestGroupRoundTrip(t *testing.T) {
	recs := sampleRecords(50)
	recs[3].Input = `a&b<c>@example.com` // no HTML escaping on the way
	recs[3].Result = json.RawMessage(`{"input":"a&b<c>@example.com"}`)
	b, err := encodeGroup(recs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeGroup("j", b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, recs) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", got[3], recs[3])
	}
	if _, err := decodeGroup("j", b[:len(b)/2]); err == nil {
		t.Error("a truncated group decoded")
	}
}

// BenchmarkEncodeGroup reports the stored bytes per address of a message of
// 100 typical results (what a group write is billed by).
func BenchmarkEncodeGroup(b *testing.B) {
	recs := sampleRecords(100)
	var size int
	for b.Loop() {
		out, err := encodeGroup(recs)
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(size)/100, "bytes/address")
}
