package lambdalocal

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
)

// Main runs lambda-local until ctx ends and returns the exit status.
func Main(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	o, err := ParseArgs(args, environ, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "lambda-local: %v\n", err)
		return 2
	}
	if err := Run(ctx, o); err != nil {
		fmt.Fprintf(stderr, "lambda-local: %v\n", err)
		return 1
	}
	return 0
}

// local is one run: what it started, to be stopped in reverse order.
type local struct {
	o         Options
	log       *slog.Logger
	logs      *sink
	d         *samtemplate.Deployment
	r         *samtemplate.Resolver
	root      string // the repository (emulators, tools)
	emu       emulators
	c         *created
	pools     map[string]*pool
	timeouts  map[string]time.Duration
	events    []samtemplate.SQSEvent // the SQS events polled
	buildDir  string
	pollers   sync.WaitGroup
	stopPolls context.CancelFunc
	srv       *http.Server
}

// Run starts everything, prints the ready line, serves until ctx ends,
// then stops every process it started.
func Run(ctx context.Context, o Options) error {
	logs := &sink{w: o.Stderr}
	l := &local{o: o, logs: logs, log: slog.New(slog.NewTextHandler(logs, nil)),
		pools: map[string]*pool{}, timeouts: map[string]time.Duration{},
		c: &created{refs: map[string]string{}, attrs: map[string]string{}, queues: map[string]samtemplate.Queue{},
			secrets: map[string]string{}}}
	defer l.shutdown()
	steps := []func(context.Context) error{l.load, l.startEmulators, l.provision, l.startFunctions, l.startPollers}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // stopped (Ctrl-C) while starting
			}
			return err
		}
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	if err := l.writeOutputs(url); err != nil {
		ln.Close()
		return err
	}
	if l.srv, err = l.server(); err != nil {
		ln.Close()
		return err
	}
	go func() { _ = l.srv.Serve(ln) }() // ends with Shutdown
	for _, n := range l.c.notes {
		l.log.Warn("differs from AWS", "note", n)
	}
	fmt.Fprintf(o.Stdout, "lambda-local listening on %s\n", url)
	<-ctx.Done()
	l.log.Info("stopping")
	return nil
}

// load reads the template with samconfig's deploy overrides.
func (l *local) load(context.Context) error {
	d, err := samtemplate.Load(samtemplate.Source{Template: l.o.Template, Samconfig: l.o.Samconfig,
		ConfigEnv: l.o.ConfigEnv, Command: "deploy", Overrides: l.o.Overrides})
	if err != nil {
		return err
	}
	l.d = d
	params := map[string]string{}
	for k, v := range d.Params {
		params[k] = v
	}
	for _, name := range d.Missing {
		params[name] = ""
		l.c.note("parameter %s has no value (no default, none in samconfig or --parameter-overrides): "+
			"the variables built from it are empty, unless an engine flag (--proxy) or RCH__HEADER_SECRET sets them", name)
	}
	l.r = d.Resolver(samtemplate.Stack{Params: params, Refs: l.c.refs, Attrs: l.c.attrs,
		Region: region, AccountID: accountID, StackName: l.o.StackName})
	if l.root, err = prereq.Root(); err != nil {
		return err
	}
	return nil
}

func (l *local) provision(ctx context.Context) error {
	p := &provisioner{d: l.d, r: l.r, sqs: l.emu.sqs, ddb: l.emu.ddb, s3: l.emu.s3, stackName: l.o.StackName,
		visibility: l.o.VisibilityTimeout, log: l.log, c: l.c}
	return p.provision(ctx)
}

// server is the HTTP front behind an http.Server with API Gateway-like
// limits on slow clients.
func (l *local) server() (*http.Server, error) {
	routes, err := l.d.Routes(l.r)
	if err != nil {
		return nil, err
	}
	f := &front{router: newRouter(routes), targets: map[string]target{}, log: l.log}
	for _, rt := range routes {
		f.apiID = l.c.refs[rt.API]
		if p, ok := l.pools[rt.Function]; ok { // a function whose Condition is false has none
			f.targets[rt.Function] = target{pool: p, timeout: l.timeouts[rt.Function]}
		}
	}
	return &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}, nil
}

// shutdown stops, in reverse order, what Run started.
func (l *local) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if l.srv != nil {
		_ = l.srv.Shutdown(ctx) // in-flight requests get their answers or the timeout
	}
	if l.stopPolls != nil {
		l.stopPolls()
		l.pollers.Wait()
	}
	for _, p := range l.pools {
		p.close()
	}
	if l.emu.shared {
		for i := len(l.c.undo) - 1; i >= 0; i-- {
			l.c.undo[i](ctx)
		}
	}
	l.emu.stop()
	if l.buildDir != "" {
		os.RemoveAll(l.buildDir)
	}
}

// rieBinary finds aws-lambda-rie.
func (l *local) rieBinary() (string, error) {
	p, err := rie.Find(l.root)
	if err != nil {
		return "", fmt.Errorf("%w (make run-lambda installs it)", err)
	}
	return filepath.Abs(p)
}
