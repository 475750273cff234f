package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/app"
)

// maxStdinLine bounds one line read from stdin; an address is ≤ 254 octets.
const maxStdinLine = 64 << 10

func runCheck(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("mailprobe check", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var ef engineFlags
	ef.register(fs)
	concurrency := fs.Int("concurrency", 4, "addresses verified at the same time")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *concurrency < 1 {
		fmt.Fprintln(env.Stderr, "mailprobe check: --concurrency must be at least 1")
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(env.Stderr, "mailprobe check: give at least one address, or - to read them from stdin")
		return 2
	}
	cfg, err := ef.load(env.Environ)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe check: %v\n", err)
		return 2
	}
	// Ignored Reacher settings are worth a line (the user may expect
	// them to act), and so are a sender and EHLO name servers refuse.
	for _, w := range app.StartupWarnings(cfg) {
		fmt.Fprintf(env.Stderr, "mailprobe check: warning: %s\n", w)
	}
	emails, err := collect(fs.Args(), env.Stdin)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe check: %v\n", err)
		return 2
	}
	if cfg.Proxy == nil && len(cfg.ProxyPool) == 0 && !cfg.AllowDirect {
		fmt.Fprintln(env.Stderr, "mailprobe check: no --proxy and no --allow-direct: SMTP is not attempted; syntax and MX are still reported")
	}
	v, err := app.NewVerifier(cfg, app.LocalLimiter(cfg), nil)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe check: %v\n", err)
		return 2
	}
	if err := checkAll(ctx, v, emails, *concurrency, env.Stdout); err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe check: %v\n", err)
		return 1
	}
	return 0
}

// collect expands "-" into the lines of stdin, skipping blank lines.
func collect(args []string, stdin io.Reader) ([]string, error) {
	var out []string
	for _, a := range args {
		if a != "-" {
			out = append(out, a)
			continue
		}
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 4096), maxStdinLine)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" {
				out = append(out, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
	}
	return out, nil
}

// checkAll verifies concurrently and prints results in input order: each
// result waits for those before it, so output streams as soon as it can.
func checkAll(ctx context.Context, v *engine.Verifier, emails []string, concurrency int, w io.Writer) error {
	results := make([]chan engine.Result, len(emails))
	for i := range results {
		results[i] = make(chan engine.Result, 1)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	launched := make(chan struct{})
	go func() {
		defer close(launched)
		for i, e := range emails {
			g.Go(func() error {
				r, err := v.Verify(gctx, engine.Request{ToEmail: e})
				results[i] <- r
				return err
			})
		}
	}()
	enc := json.NewEncoder(w)
	for i := range emails {
		select {
		case r := <-results[i]:
			if err := enc.Encode(r); err != nil {
				return fmt.Errorf("write result: %w", err)
			}
		case <-ctx.Done():
			<-launched
			return errors.Join(ctx.Err(), g.Wait())
		}
	}
	<-launched
	return g.Wait()
}
