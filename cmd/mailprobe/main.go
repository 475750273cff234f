// Command mailprobe verifies e-mail addresses from the command line
// (mailprobe check) or serves the Reacher-compatible API on one machine
// with embedded defaults (mailprobe serve).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mailprobe/mailprobe/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()})
	stop()
	os.Exit(code)
}
