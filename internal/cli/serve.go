package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"

	"github.com/mailprobe/mailprobe/internal/app"
	"github.com/mailprobe/mailprobe/internal/metrics/prom"
)

func runServe(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("mailprobe serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var ef engineFlags
	ef.register(fs, serveFlagList...)
	listen := fs.String("listen", "", "`host:port` to listen on (default http_host:http_port, 127.0.0.1:8080)")
	dataDir := fs.String("data-dir", "", "`directory` of the embedded store and queue (default ./data)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "mailprobe serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := ef.load(env.Environ)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe serve: %v\n", err)
		return 2
	}
	if *dataDir != "" {
		cfg.Storage.DataDir = *dataDir
	}
	addr := *listen
	if addr == "" {
		addr = net.JoinHostPort(cfg.HTTPHost, strconv.Itoa(cfg.HTTPPort))
	}
	logger := app.NewLogger(env.Stderr, cfg.LogLevel)
	for _, w := range app.StartupWarnings(cfg) {
		logger.Warn("configuration", "warning", w)
	}
	if cfg.Proxy == nil && len(cfg.ProxyPool) == 0 && !cfg.AllowDirect {
		logger.Warn("no --proxy and no --allow-direct: checks report syntax and MX, SMTP is not attempted")
	}
	m := prom.New(prom.Options{Backend: cfg.BackendName, Proxies: app.ProxyIDs(cfg)})
	srv, err := app.NewLocal(cfg, logger, m)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe serve: %v\n", err)
		if errors.Is(err, app.ErrSecretRef) {
			return 2 // a configuration error, as with any invalid setting
		}
		return 1
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe serve: %v\n", err)
		return 1
	}
	logger.Info("listening", "url", "http://"+ln.Addr().String(), "data_dir", cfg.Storage.DataDir, "open", cfg.HeaderSecret.IsZero())
	if err := srv.Serve(ctx, ln); err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe serve: %v\n", err)
		if errors.Is(err, app.ErrOpenNetwork) {
			return 2
		}
		return 1
	}
	return 0
}
