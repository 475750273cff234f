package mx_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine/mx"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     mx.Config
		wantErr bool
	}{
		{"host and port", mx.Config{Servers: []string{"127.0.0.1:5353", "[::1]:53"}}, false},
		{"bare ip means port 53", mx.Config{Servers: []string{"127.0.0.1", "::1"}}, false},
		{"no port", mx.Config{Servers: []string{"resolver.test"}}, true},
		{"negative timeout", mx.Config{Servers: []string{"127.0.0.1:53"}, Timeout: -time.Second}, true},
		{"negative attempts", mx.Config{Servers: []string{"127.0.0.1:53"}, Attempts: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mx.New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Errorf("New error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewReadsResolvConf(t *testing.T) {
	if _, err := os.Stat("/etc/resolv.conf"); err != nil {
		t.Skip("no /etc/resolv.conf here")
	}
	// Only the configuration is read: no query is sent.
	if _, err := mx.New(mx.Config{}); err != nil {
		t.Errorf("New with system resolvers: %v", err)
	}
}

func BenchmarkLookupMXCached(b *testing.B) {
	srv := startBenchServer(b)
	r := newResolver(b, mx.Config{}, srv)
	ctx := context.Background()
	if _, err := r.LookupMX(ctx, "bench.test"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.LookupMX(ctx, "bench.test"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookupMXUncached(b *testing.B) {
	srv := startBenchServer(b)
	r := newResolver(b, mx.Config{CacheSize: -1}, srv)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.LookupMX(ctx, "bench.test"); err != nil {
			b.Fatal(err)
		}
	}
}
