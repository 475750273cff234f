package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/store"
)

// BenchmarkPutResult measures PutResult of new records (a put and a count)
// and, every fourth call, of a redelivery (a failed put, a read, a no-op
// count), the worker's hot path. Run it with -benchtime=200x on the emulator.
func BenchmarkPutResult(b *testing.B, s Store) {
	ctx := context.Background()
	job := fmt.Sprintf("job-bench-%d", time.Now().UnixNano()) // b.N changes between calls
	if err := s.CreateJob(ctx, store.Job{ID: job, Total: b.N, CreatedAt: base}); err != nil {
		b.Fatalf("CreateJob: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		idx := i
		if i%4 == 3 {
			idx = i - 1 // redelivery
		}
		if _, _, err := s.PutResult(ctx, record(job, idx, verdictOf(idx), base.Add(time.Duration(i)))); err != nil {
			b.Fatalf("PutResult: %v", err)
		}
	}
}
