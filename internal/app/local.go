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
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mailprobe/mailprobe/internal/api"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/queue/local"
	"github.com/mailprobe/mailprobe/internal/store/bolt"
	"github.com/mailprobe/mailprobe/internal/worker"
)

// Local is `mailprobe serve`: the API, the embedded store and queue under
// one data directory, and the queue worker, in one process.
type Local struct {
	cfg    config.Config
	logger *slog.Logger
	store  *bolt.Store
	queue  *local.Queue
	api    http.Handler
	worker *worker.Worker
}

// NewLocal opens the data directory and builds every part.
func NewLocal(cfg config.Config, logger *slog.Logger) (*Local, error) {
	dir := cfg.Storage.DataDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	st, err := bolt.Open(filepath.Join(dir, "store.db"))
	if err != nil {
		return nil, err
	}
	q, err := local.Open(filepath.Join(dir, "queue.db"), local.Options{MaxReceiveCount: 5})
	if err != nil {
		st.Close()
		return nil, err
	}
	v, err := NewVerifier(cfg, logger, LocalLimiter(cfg))
	if err != nil {
		st.Close()
		q.Close()
		return nil, err
	}
	open := cfg.HeaderSecret.IsZero()
	if open {
		logger.Warn("NO SECRET CONFIGURED: the API is open to anyone who can reach it; set RCH__HEADER_SECRET or header_secret")
	}
	m := NewMetrics()
	l := &Local{cfg: cfg, logger: logger, store: st, queue: q}
	l.api = api.New(APIConfig(cfg, open, true), api.Deps{
		Checker: v, Jobs: st, Queue: q, Cache: st, Metrics: m, MetricsHandler: m, Logger: logger,
	})
	l.worker = worker.New(WorkerConfig(cfg), worker.Deps{
		Verifier: v, Store: st, Queue: q, Webhook: NewWebhook(cfg), Metrics: m, Logger: logger,
	})
	return l, nil
}

// Handler is the API handler, for tests.
func (l *Local) Handler() http.Handler { return l.api }

// Serve listens on ln until ctx ends, then shuts down gracefully: it stops
// accepting requests, lets running ones finish, lets the worker store what
// it is probing and hand the rest back to the queue, and closes the files.
func (l *Local) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: l.api, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { return worker.RunLocal(gctx, l.queue, l.worker) })
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	err := g.Wait()
	return errors.Join(err, l.queue.Close(), l.store.Close())
}
