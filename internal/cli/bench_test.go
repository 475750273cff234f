package cli

import (
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/mailfleet"
)

// BenchmarkCheckList is the figure: `mailprobe check` over 60
// addresses on 12 domains, among them a tarpit MX (never sends a banner),
// an MX that hangs up after EHLO and a greylisting MX, with a 5 s SMTP
// timeout and a 3 s greylist wait. Domains are checked side by side, so a
// run takes about its slowest domain (the tarpit: a 5 s timeout, then the
// retry policy's one connection retry, 5 s more), not the sum of them.
// Each round starts a fresh fleet (greylisting remembers addresses) with
// the timer stopped.
//
//	go test ./internal/cli -run '^$' -bench CheckList -benchtime 3x
func BenchmarkCheckList(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		f := mailfleet.Start(b, mailfleet.Bench())
		args := f.CheckArgs("--smtp-timeout", "5s", "--greylist-wait", "3s", "-")
		b.StartTimer()
		code, out, stderr := run(b, f.Lines(), args...)
		b.StopTimer()
		if code != 0 || strings.Count(out, "\n") != len(f.Emails) {
			b.Fatalf("exit %d, %d results: %s", code, strings.Count(out, "\n"), stderr)
		}
		b.ReportMetric(float64(f.Sessions()), "sessions/op")
		b.StartTimer()
	}
}
