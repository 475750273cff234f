package config

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRetrySettings(t *testing.T) {
	sched := func(ds ...time.Duration) Durations { return ds }
	tests := []struct {
		name  string
		toml  string
		env   []string
		flags []Flag
		want  Retry
	}{
		{"defaults", "", nil, nil, Default().Retry},
		{"seconds and units in TOML", "[retry]\nschedule = [1, \"2s\", 90]\nwindow = \"10m\"\nconnection_retries = 0", nil, nil,
			Retry{Schedule: sched(time.Second, 2*time.Second, 90*time.Second), Window: 10 * time.Minute}},
		{"a comma-separated list from the environment", "", []string{"RCH__RETRY__SCHEDULE=1m, 5m", "RCH__RETRY__WINDOW=120"}, nil,
			Retry{Schedule: sched(time.Minute, 5*time.Minute), Window: 2 * time.Minute, ConnectionRetries: 1}},
		{"flags", "", nil, []Flag{{Name: "retry-schedule", Key: "retry.schedule", Value: "2s"}, {Name: "retry-window", Key: "retry.window", Value: "30s"}},
			Retry{Schedule: sched(2 * time.Second), Window: 30 * time.Second, ConnectionRetries: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(Options{File: writeTOML(t, tt.toml), Environ: tt.env, Flags: tt.flags})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Retry, tt.want) {
				t.Errorf("retry = %+v, want %+v", c.Retry, tt.want)
			}
		})
	}
	for _, bad := range []string{"[retry]\nschedule = []", "[retry]\nschedule = [0]", "[retry]\nschedule = [\"soon\"]",
		"[retry]\nwindow = 0", "[retry]\nconnection_retries = -1", "domain_backoff = 0", "probe_secret = \"ssm:\""} {
		if _, err := Load(Options{File: writeTOML(t, bad)}); !errors.Is(err, ErrInvalid) && err == nil {
			t.Errorf("%q loaded without an error", bad)
		}
	}
}
