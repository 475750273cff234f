package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/store/bolt"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/throttle"
)

// benchServer serves the API as `mailprobe serve` does: the real engine,
// the bolt store as cache, JSON logs (discarded), no throttle, over
// loopback TCP.
func benchServer(b *testing.B) (*httptest.Server, int) {
	b.Helper()
	smtp := smtptest.Start(b, smtptest.Options{Users: map[string]string{"alice@bench.test": smtptest.AcceptReply}})
	st, err := bolt.Open(filepath.Join(b.TempDir(), "store.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	cfg := DefaultConfig()
	cfg.Secret = testSecret
	cfg.Throttle = throttle.Limits{}
	h := New(cfg, Deps{
		Checker: realEngine(b, "bench.test"),
		Jobs:    st,
		Queue:   &fakeQueue{},
		Cache:   st,
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv, smtp.Port()
}

// load runs b.N POSTs of body from parallel clients with keep-alive
// connections and reports requests per second and the 99th percentile
// latency. Allocations are the whole process's: client and server.
func load(b *testing.B, srv *httptest.Server, body, wantCache string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/check_email", strings.NewReader(body))
			req.Header.Set("x-reacher-secret", testSecret)
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			mine = append(mine, time.Since(t0))
			if res.StatusCode != 200 || res.Header.Get(headerCache) != wantCache {
				b.Errorf("status %d, cache %q", res.StatusCode, res.Header.Get(headerCache))
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

func BenchmarkServeInvalidSyntax(b *testing.B) {
	srv, _ := benchServer(b)
	load(b, srv, `{"to_email":"not an address"}`, "off")
}

func BenchmarkServeCacheHit(b *testing.B) {
	srv, port := benchServer(b)
	body := `{"to_email":"alice@bench.test","smtp_port":` + strconv.Itoa(port) + `}`
	// Warm the cache with one real verification.
	req, _ := http.NewRequest("POST", srv.URL+"/v1/check_email", strings.NewReader(body))
	req.Header.Set("x-reacher-secret", testSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		b.Fatalf("warm-up: %v %v", res, err)
	}
	_ = res.Body.Close()
	if got := res.Header.Get(headerCache); got != "miss" {
		b.Fatalf("warm-up cache header %q", got)
	}
	load(b, srv, body, "hit")
}
