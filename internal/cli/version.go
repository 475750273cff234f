package cli

import (
	"fmt"
	"runtime/debug"
)

// Version describes the build: module version and VCS revision when known.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "mailprobe (unknown build)"
	}
	rev := "unknown"
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			rev = s.Value
		}
	}
	return fmt.Sprintf("mailprobe %s (commit %s, %s)", bi.Main.Version, rev, bi.GoVersion)
}
