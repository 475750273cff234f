package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/app"
)

func runCheck(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("mailprobe check", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var ef engineFlags
	ef.register(fs)
	concurrency := fs.Int("concurrency", engine.DefaultBatchDomains, "`domains` checked at the same time (a domain's addresses share SMTP sessions)")
	in := inputs{stdin: env.Stdin}
	fs.StringVar(&in.file, "input", "", "read addresses from `FILE`: one per line, or a CSV file with --column")
	fs.StringVar(&in.column, "column", "", "the CSV `column` (header name) that holds the addresses")
	output := fs.String("output", "", "write results to `FILE` instead of stdout")
	format := fs.String("format", "json", "output `format`: json (one result per line) or csv (the bulk export's columns)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	in.args = fs.Args()
	if err := checkFlags(*concurrency, in); err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe check: %v\n", err)
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
	emails, err := in.collect()
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
	out, closeOut, err := openOutput(*output, env.Stdout)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe check: %v\n", err)
		return 2
	}
	rw, err := newResultWriter(*format, out)
	if err == nil {
		l := newLister(v, app.RetryPolicy(cfg), *concurrency)
		err = checkList(ctx, l, emails, rw, env.Stderr)
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe check: %v\n", err)
		return 1
	}
	return 0
}

// checkFlags reports a bad combination of flags.
func checkFlags(concurrency int, in inputs) error {
	switch {
	case concurrency < 1:
		return errors.New("--concurrency must be at least 1")
	case len(in.args) == 0 && in.file == "":
		return errors.New("give at least one address, - to read them from stdin, or --input FILE")
	}
	return nil
}

// openOutput returns the file named by --output (created or truncated),
// or stdout, and how to close it.
func openOutput(name string, stdout io.Writer) (io.Writer, func() error, error) {
	if name == "" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, nil, fmt.Errorf("--output: %w", err)
	}
	return f, f.Close, nil
}

// checkList checks emails with l and writes the results in input order,
// with a progress line on stderr when it is a terminal.
func checkList(ctx context.Context, l *lister, emails []string, rw resultWriter, stderr io.Writer) error {
	board := newRetryBoard()
	prog := newProgress(stderr, len(emails), board)
	stop := make(chan struct{})
	go prog.tick(stop)
	sink := newInOrder(rw, len(emails))
	err := l.run(ctx, emails, func(i int, r engine.Result) {
		board.forget(i)
		sink.put(i, r)
		prog.add()
	}, board)
	close(stop)
	prog.end()
	return errors.Join(err, sink.close())
}
