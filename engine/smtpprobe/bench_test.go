package smtpprobe

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// BenchmarkClassify cycles through every reply of the classification
// table, so the figure is an average over the real-world mix.
func BenchmarkClassify(b *testing.B) {
	replies := make([]*Reply, len(classifyTests))
	for i, tt := range classifyTests {
		replies[i] = parse(b, tt.reply)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		Classify(replies[i%len(replies)])
	}
}

func BenchmarkRetryAfter(b *testing.B) {
	r := parse(b, "450 4.7.1 <a@b.test>: greylisted, please try again in 300 seconds")
	c, _ := Classify(r)
	b.ReportAllocs()
	for b.Loop() {
		RetryAfter(r, c)
	}
}

func BenchmarkReadReply(b *testing.B) {
	const gmail = "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n" +
		"550-5.1.1 double-checking the recipient's email address for typos or\r\n" +
		"550-5.1.1 unnecessary spaces. Learn more at\r\n" +
		"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1 - gsmtp\r\n"
	for _, in := range []struct{ name, text string }{{"single", "250 2.1.5 OK\r\n"}, {"gmail4lines", gmail}} {
		b.Run(in.name, func(b *testing.B) {
			sr := strings.NewReader(in.text)
			br := bufio.NewReader(sr)
			b.ReportAllocs()
			b.SetBytes(int64(len(in.text)))
			for b.Loop() {
				sr.Reset(in.text)
				br.Reset(sr)
				if _, err := ReadReply(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProbe runs whole conversations against a loopback server: one
// op is one session (dial, banner, EHLO, MAIL, RCPTs, QUIT). With
// rtt=0 the figure is the client's CPU cost plus loopback; with a
// simulated round trip it shows what pipelining saves.
func BenchmarkProbe(b *testing.B) {
	tests := []struct {
		rcpts      int
		pipelining bool
		rtt        time.Duration
	}{
		{1, false, 0}, {100, false, 0}, {100, true, 0},
		{20, false, 500 * time.Microsecond}, {20, true, 500 * time.Microsecond},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("rcpts=%d/pipelining=%v/rtt=%v", tt.rcpts, tt.pipelining, tt.rtt)
		b.Run(name, func(b *testing.B) {
			s := smtptest.Start(b, smtptest.Options{Pipelining: tt.pipelining, Delay: tt.rtt,
				Mailbox: func(rcpt string) string {
					if strings.HasPrefix(rcpt, "u") {
						return "250 2.1.5 OK"
					}
					return "550 5.1.1 no such user"
				}})
			p := Params{HelloName: "probe.test", FromEmail: "hello@probe.test", CatchAllProbe: "zz9q8x7w6v5u4t3@b.test"}
			for i := range tt.rcpts {
				p.Recipients = append(p.Recipients, fmt.Sprintf("u%d@b.test", i))
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				conn, err := net.Dial("tcp", s.Addr())
				if err != nil {
					b.Fatal(err)
				}
				out, err := Probe(ctx, conn, p, ClientOptions{})
				if err != nil || len(out.Recipients) != tt.rcpts || out.CatchAll == nil || *out.CatchAll {
					b.Fatalf("Probe = %+v, %v", out, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*tt.rcpts), "µs/rcpt")
		})
	}
}
