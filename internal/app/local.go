package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/internal/api"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/metrics"
	"github.com/mailprobe/mailprobe/internal/queue/local"
	"github.com/mailprobe/mailprobe/internal/store/bolt"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// ErrSecretRef is returned by NewLocal when header_secret or a proxy_urls
// entry is an ssm: or secretsmanager: reference. Only the Lambda functions
// resolve those (with their role's credentials); taking the reference text
// as the secret would protect a local server with a guessable string.
var ErrSecretRef = errors.New("header_secret or proxy_urls is an ssm: or secretsmanager: reference, which only the AWS Lambda functions resolve; give mailprobe serve the values themselves (RCH__HEADER_SECRET, MAILPROBE_PROXIES)")

// Timeouts of the local HTTP server. A slow or idle client must not hold a
// connection forever; the Lambda API has API Gateway in front for this.
const (
	// serveReadTimeout bounds reading one request, body included (bulk
	// bodies are at most 8 MiB).
	serveReadTimeout = 30 * time.Second
	// serveWriteMargin is added to the inline budget (25 s by default) to
	// bound writing a response, which starts with the request: a check
	// that does not conclude inline is then queued and answered 202.
	serveWriteMargin = 35 * time.Second
	// serveIdleTimeout bounds a keep-alive connection between requests.
	serveIdleTimeout = 120 * time.Second
)

// localMaxReceiveCount is the embedded queue's receive limit, as the SAM
// template's maxReceiveCount: locally a message is received again only
// after a restart or a failure (the worker waits for politeness slots
// without a deadline), so restarts in the middle of a job must not
// dead-letter it.
const localMaxReceiveCount = 10

// ErrOpenNetwork is returned by Serve when the server has no secret, its
// listener is not on a loopback address and allow_open_network is not set:
// anyone on the network could then use it.
var ErrOpenNetwork = errors.New("refusing to serve without a secret on a non-loopback address; set header_secret (RCH__HEADER_SECRET), listen on 127.0.0.1, or pass --allow-open-network")

// Local is `mailprobe serve`: the API, the embedded store and queue under
// one data directory, and the queue worker, in one process. It always runs
// its worker; Reacher's [worker] enable has no effect here.
type Local struct {
	cfg    config.Config
	open   bool // no secret
	logger *slog.Logger
	store  *bolt.Store
	queue  *local.Queue
	api    http.Handler
	worker *worker.Worker
}

// LocalMetrics is the metrics registry of the local server: it observes
// verifications and engine events, samples the queue when read, and
// serves GET /metrics. The prom Registry is one; it is passed in rather
// than built here so that the Lambda functions, which share this package,
// do not link a Prometheus client.
type LocalMetrics interface {
	metrics.Observer
	metrics.Events
	http.Handler
	WatchQueue(s metrics.QueueSampler) error
}

// NewLocal opens the data directory and builds every part, counting into
// m (build it with prom.New and ProxyIDs).
func NewLocal(cfg config.Config, logger *slog.Logger, m LocalMetrics) (*Local, error) {
	if refs := cfg.SecretRefs(); len(refs) > 0 {
		return nil, fmt.Errorf("%s: %w", strings.Join(refs, ", "), ErrSecretRef)
	}
	dir := cfg.Storage.DataDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := bolt.Open(filepath.Join(dir, "store.db"), bolt.WithRetention(cfg.Retention()))
	if err != nil {
		return nil, err
	}
	q, err := local.Open(filepath.Join(dir, "queue.db"), local.Options{MaxReceiveCount: localMaxReceiveCount})
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := m.WatchQueue(queueSampler{q}); err != nil {
		st.Close()
		q.Close()
		return nil, err
	}
	v, err := NewVerifier(cfg, LocalLimiter(cfg), m)
	if err != nil {
		st.Close()
		q.Close()
		return nil, err
	}
	doc, err := NewDoctor(cfg)
	if err != nil {
		st.Close()
		q.Close()
		return nil, err
	}
	open := cfg.HeaderSecret.IsZero()
	if open {
		logger.Warn("NO SECRET CONFIGURED: the API is open to anyone who can reach it; set RCH__HEADER_SECRET or header_secret")
	}
	l := &Local{cfg: cfg, open: open, logger: logger, store: st, queue: q}
	l.api = api.New(APIConfig(cfg, open, true), api.Deps{
		Checker: v, Jobs: st, Queue: q, Cache: st, Metrics: InlineMetrics(cfg, logger, m), MetricsHandler: m, Logger: logger,
		Doctor: doc,
	})
	l.worker = worker.New(WorkerConfig(cfg), worker.Deps{
		Verifier: v, Store: st, Queue: q, Webhook: NewWebhook(cfg), Metrics: m, Logger: logger,
	})
	return l, nil
}

// Serve listens on ln until ctx ends, then shuts down gracefully: it stops
// accepting requests, lets running ones finish, lets the worker store what
// it is probing and hand the rest back to the queue, and closes the files.
func (l *Local) Serve(ctx context.Context, ln net.Listener) error {
	if l.open && !l.cfg.AllowOpenNetwork && !isLoopback(ln.Addr()) {
		err := fmt.Errorf("%w (listening on %s)", ErrOpenNetwork, ln.Addr())
		return errors.Join(err, ln.Close(), l.queue.Close(), l.store.Close())
	}
	srv := newHTTPServer(l.api, l.cfg.InlineBudget)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { return worker.RunLocal(gctx, l.queue, l.worker) })
	g.Go(func() error { l.purge(gctx); return nil })
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	err := g.Wait()
	return errors.Join(err, l.queue.Close(), l.store.Close())
}

// isLoopback reports whether a listener's address accepts only local
// connections. The unspecified address (every interface) is not loopback.
func isLoopback(a net.Addr) bool {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	return false
}

// purgeEvery is how often serve deletes the jobs and results past their
// retention (Open also does, at start-up).
const purgeEvery = time.Hour

// purge runs the store's Purge every purgeEvery until ctx ends.
func (l *Local) purge(ctx context.Context) {
	t := time.NewTicker(purgeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := l.store.Purge(); err != nil {
				l.logger.Error("Purge of expired jobs failed", "err", err)
			} else if n > 0 {
				l.logger.Info("Expired jobs purged", "jobs", n)
			}
		}
	}
}

// newHTTPServer returns the local server with timeouts that let no client
// hold a connection forever, and a write timeout that outlasts an inline
// check of inlineBudget.
func newHTTPServer(h http.Handler, inlineBudget time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       serveReadTimeout,
		WriteTimeout:      inlineBudget + serveWriteMargin,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}
