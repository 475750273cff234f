package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/store"
)

// BenchmarkDeliver measures the worker's hot path: one delivery of a
// message of 100 addresses, its results stored together and its outcome
// settled. Run it with -benchtime=100x on the emulator.
func BenchmarkDeliver(b *testing.B, s Store) {
	const per = 100
	ctx := context.Background()
	job := fmt.Sprintf("job-bench-%d", time.Now().UnixNano()) // b.N changes between calls
	if err := s.CreateJob(ctx, store.Job{ID: job, Total: b.N * per, CreatedAt: base}); err != nil {
		b.Fatalf("CreateJob: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		items := span(i*per, (i+1)*per)
		key := store.MessageKey(0, items)
		stored, _, err := s.StoreResults(ctx, job, key, records(job, items, base))
		if err != nil {
			b.Fatalf("StoreResults: %v", err)
		}
		if _, _, err := s.Settle(ctx, store.Settled(job, key, 0, "bench", stored, nil)); err != nil {
			b.Fatalf("Settle: %v", err)
		}
	}
}
