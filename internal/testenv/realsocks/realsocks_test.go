//go:build linux

package realsocks

import "testing"

// TestNeedSkipsOutsideCI: without CI, a missing binary skips the test
// (loudly, on stderr) instead of failing it.
func TestNeedSkipsOutsideCI(t *testing.T) {
	t.Setenv("CI", "")
	skipped := false
	t.Run("missing binary", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Need(t, false, "mailprobe-no-such-binary")
	})
	if !skipped {
		t.Error("Need did not skip for a missing binary")
	}
}
