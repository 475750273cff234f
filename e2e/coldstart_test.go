package e2e

import (
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/rie"
)

// BenchmarkAPIColdStart measures a cold start under the emulator: start the
// emulator and the bootstrap, then answer the first request (GET /healthz).
// It is an upper bound of the function's own init time, which is what a
// user waits for on a cold Lambda.
//
//	go test -run '^$' -bench ColdStart -benchtime 10x ./e2e/
func BenchmarkAPIColdStart(b *testing.B) {
	s := deploy(b)
	bootstrap := rie.Build(b, "./functions/api")
	ev := event(b, "api-healthz.json")
	b.ResetTimer()
	for b.Loop() {
		f := rie.Start(b, bootstrap, s.env...)
		f.Invoke(b, ev)
		f.Stop()
	}
}
