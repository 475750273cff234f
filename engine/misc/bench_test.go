package misc

import "testing"

func BenchmarkIsDisposable(b *testing.B) {
	c := checker()
	for _, d := range []string{"mailinator.com", "a.b.mailinator.com", "example.com", "Mailinator.COM"} {
		b.Run(d, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = c.IsDisposable(d)
			}
		})
	}
}

func BenchmarkIsFree(b *testing.B) {
	c := checker()
	b.ReportAllocs()
	for b.Loop() {
		_ = c.IsFree("gmail.com")
	}
}

// BenchmarkNew measures start-up cost; B/op is the heap a Checker holds.
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = New()
	}
}
