package store

import (
	"errors"
	"testing"
)

func TestSummaryAndStatus(t *testing.T) {
	var s Summary
	for _, v := range []string{Safe, Risky, Risky, Invalid, Unknown, "maybe"} {
		s.Add(v)
	}
	if want := (Summary{Safe: 1, Risky: 2, Invalid: 1, Unknown: 1}); s != want || s.Total() != 5 {
		t.Errorf("Summary = %+v (total %d), want %+v (total 5)", s, s.Total(), want)
	}
	tests := []struct {
		total, processed int
		want             string
	}{
		{1, 0, StatusRunning}, {3, 2, StatusRunning}, {3, 3, StatusCompleted}, {0, 0, StatusRunning},
	}
	for _, tt := range tests {
		if got := (Job{Total: tt.total, Processed: tt.processed}).Status(); got != tt.want {
			t.Errorf("Status(total %d, processed %d) = %s, want %s", tt.total, tt.processed, got, tt.want)
		}
	}
}

func TestChecks(t *testing.T) {
	good := Record{JobID: "j", Index: 0, IsReachable: Safe, Result: []byte(`{}`)}
	tests := []struct {
		name string
		err  error
	}{
		{"good record", CheckRecord(good)},
		{"good job", CheckJob(Job{ID: "j", Total: 1})},
		{"good page", CheckPage(0, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err != nil {
				t.Errorf("got %v, want nil", tt.err)
			}
		})
	}
	bad := []error{
		CheckRecord(Record{Index: 0, IsReachable: Safe}),
		CheckRecord(Record{JobID: "j", Index: MaxIndex + 1, IsReachable: Safe}),
		CheckJob(Job{ID: "j"}),
		CheckPage(0, 0),
	}
	for i, err := range bad {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("bad case %d = %v, want ErrInvalid", i, err)
		}
	}
}
