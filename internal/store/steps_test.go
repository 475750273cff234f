package store

import (
	"slices"
	"testing"
	"time"
)

// TestToStore: what every store writes is a copy, in order, cleaned, and
// the caller's values are left as they were.
func TestToStore(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	given := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []Record{
		{JobID: "j", Index: 2, IsReachable: Safe, Result: []byte(`{}`)},
		{JobID: "j", Index: 0, IsReachable: Risky, Result: []byte(`{}`), CreatedAt: given},
	}
	got, err := ResultsToStore("j", "h0-k", recs, now)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Index != 0 || got[1].Index != 2 || !got[0].CreatedAt.Equal(given) || got[1].CreatedAt != now.UTC() {
		t.Errorf("ResultsToStore = %+v, want indices 0, 2 and the zero time set to now in UTC", got)
	}
	if recs[0].Index != 2 || !recs[0].CreatedAt.IsZero() {
		t.Errorf("ResultsToStore changed its argument: %+v", recs)
	}
	if _, err := ResultsToStore("j", "h0-k", append(recs, recs[0]), now); err == nil {
		t.Error("ResultsToStore accepted a repeated index")
	}

	o := Outcome{JobID: "j", Key: "h0-k", Parts: []Part{{Indices: []int{5, 3}, Reason: "retry", Until: now}}}
	s, err := OutcomeToSettle(o, now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Parts[0].Indices, []int{3, 5}) || s.At != now.UTC() || s.Parts[0].Until != now.UTC() {
		t.Errorf("OutcomeToSettle = %+v, want sorted indices and UTC times", s)
	}
	if !slices.Equal(o.Parts[0].Indices, []int{5, 3}) || o.Parts[0].Until != now {
		t.Errorf("OutcomeToSettle changed its argument: %+v", o)
	}
	o.Parts = append(o.Parts, Part{Indices: []int{3}, Reason: "retry"})
	if _, err := OutcomeToSettle(o, now); err == nil {
		t.Error("OutcomeToSettle accepted an index in two parts")
	}
}
