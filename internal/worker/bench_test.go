package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// BenchmarkProcess verifies and stores one 50-address message per
// iteration through the real engine, a loopback SMTP server and the bolt
// store. ns/op divided by 50 is the cost of one address.
func BenchmarkProcess(b *testing.B) {
	for _, delay := range []time.Duration{0, 20 * time.Millisecond} {
		b.Run(fmt.Sprintf("smtp-delay=%v", delay), func(b *testing.B) {
			e := newEnv(b, smtptest.Options{Mailbox: okMailbox, Delay: delay})
			e.addDomains("bench.test")
			w := e.worker(worker.Config{PerDomain: 5}, e.verifier(nil), nil, nil)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				list, _ := split(50, "bench.test")
				msgs := e.job(fmt.Sprintf("bench-%d", i), list, nil, 50)
				rep, err := w.Process(ctx, msgs[0])
				if err != nil || rep.Done != 50 {
					b.Fatalf("report %+v, %v", rep, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*50)/1e6, "ms/address")
		})
	}
}

// BenchmarkProcessSkip measures a redelivery where every item is stored
// already: the cost of the idempotency check alone.
func BenchmarkProcessSkip(b *testing.B) {
	e := newEnv(b, smtptest.Options{Mailbox: okMailbox})
	e.addDomains("bench.test")
	w := e.worker(worker.Config{}, e.verifier(nil), nil, nil)
	list, _ := split(50, "bench.test")
	msgs := e.job("bench-skip", list, nil, 50)
	ctx := context.Background()
	if _, err := w.Process(ctx, msgs[0]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := w.Process(ctx, msgs[0])
		if err != nil || rep.Skipped != 50 {
			b.Fatalf("report %+v, %v", rep, err)
		}
	}
}
