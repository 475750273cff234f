package cli

import (
	"fmt"

	"github.com/mailprobe/mailprobe/internal/api"
)

// Version describes the build as GET /version does.
func Version() string {
	version, commit, goVersion := api.BuildInfo()
	return fmt.Sprintf("mailprobe %s (commit %s, %s)", version, commit, goVersion)
}
