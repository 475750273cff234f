package lambdalocal

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// build compiles a function's bootstrap for this machine into dir, the way
// `sam build` does for the template: a makefile function is built by
// `make build-<LogicalId>` in its CodeUri with ARTIFACTS_DIR set, and
// LAMBDA_ARCH set to the host's architecture so the emulator can run it; a
// go1.x function is built with go build in its CodeUri.
func build(ctx context.Context, templateDir, id string, s samtemplate.Settings, dir string, log io.Writer) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	src := filepath.Join(templateDir, s.CodeURI)
	var cmd *exec.Cmd
	switch s.BuildMethod {
	case "makefile":
		cmd = exec.CommandContext(ctx, "make", "--no-print-directory", "-C", src, "build-"+id,
			"ARTIFACTS_DIR="+dir, "LAMBDA_ARCH="+goruntime.GOARCH)
		cmd.Env = append(os.Environ(), "ARTIFACTS_DIR="+dir)
	case "go1.x", "":
		cmd = exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath",
			"-o", filepath.Join(dir, "bootstrap"), ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goruntime.GOARCH)
	default:
		return "", fmt.Errorf("%s: BuildMethod %q: lambda-local builds makefile and go1.x functions", id, s.BuildMethod)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s: %w", id, err)
	}
	bootstrap := filepath.Join(dir, "bootstrap")
	if _, err := os.Stat(bootstrap); err != nil {
		return "", fmt.Errorf("build %s: no bootstrap in the artifacts: %w", id, err)
	}
	return bootstrap, nil
}
