// Package clock holds the project's one context-aware wait: Sleep is
// time.Sleep that ends early when its context ends. Every wait that a
// shutdown or a deadline must cut short (retry backoffs, polling pauses,
// greylisting and politeness waits) goes through it.
package clock

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx ends and then returns ctx's error. With
// d ≤ 0 it returns at once: ctx's error, or nil while ctx is alive.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
