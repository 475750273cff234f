package lambdalocal

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// fakeProc stands in for aws-lambda-rie: an HTTP server whose handler
// plays the function.
type fakeProc struct {
	srv  *httptest.Server
	done chan struct{}
	once sync.Once
}

func (f *fakeProc) Endpoint() string      { return f.srv.URL }
func (f *fakeProc) Done() <-chan struct{} { return f.done }
func (f *fakeProc) Pid() int              { return 0 }
func (f *fakeProc) Runtimes() []int       { return nil }
func (f *fakeProc) NoteRuntimes()         {}
func (f *fakeProc) Stop() {
	f.once.Do(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
		close(f.done)
	})
}

// fakePool returns a pool of up to max fake instances running fn, and
// counts the instances started.
func fakePool(t *testing.T, max int, fn http.HandlerFunc) (*pool, *int) {
	t.Helper()
	var mu sync.Mutex
	started := new(int)
	p := newPool("Fn", max, &sink{w: io.Discard}, slog.New(slog.DiscardHandler),
		func(context.Context, *lineWriter) (process, error) {
			mu.Lock()
			*started++
			mu.Unlock()
			return &fakeProc{srv: httptest.NewServer(fn), done: make(chan struct{})}, nil
		})
	t.Cleanup(p.close)
	return p, started
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
