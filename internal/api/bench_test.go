package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	cfg.CacheTTL = 24 * time.Hour // the production checklist's cache
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
	req.Header.Set("Content-Type", "application/json")
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

// countingWriter is a ResponseWriter that keeps nothing: it counts the
// bytes a stream sends and can flush.
type countingWriter struct {
	h http.Header
	n int64
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Flush()                      {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkResultsCSVStream streams every row of a finished job as CSV
// (a request without limit, as `mailprobe serve` answers it) and reports
// the peak heap in use: with constant memory it does not grow with the
// job's size.
func BenchmarkResultsCSVStream(b *testing.B) {
	for _, rows := range []int{1000, 20000} {
		b.Run(strconv.Itoa(rows)+"rows", func(b *testing.B) {
			hs := newHarness(b, nil)
			fillJob(b, hs, "42", rows)
			runtime.GC()
			peak, stop := samplePeakHeap()
			b.ReportAllocs()
			var sent int64
			for b.Loop() {
				w := &countingWriter{h: http.Header{}}
				req := httptest.NewRequest("GET", "/v1/bulk/42/results?format=csv", nil)
				req.Header.Set("x-reacher-secret", testSecret)
				hs.h.ServeHTTP(w, req)
				sent = w.n
			}
			stop()
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(sent)/float64(rows), "bytes/row")
		})
	}
}

// samplePeakHeap records the largest HeapInuse seen, sampled every 10 ms,
// until stop.
func samplePeakHeap() (peak *atomic.Uint64, stop func()) {
	peak = new(atomic.Uint64)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
			}
		}
	}()
	return peak, func() { close(quit); <-done }
}
