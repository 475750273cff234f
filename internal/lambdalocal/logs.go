package lambdalocal

import (
	"bytes"
	"io"
	"sync"
)

// sink serialises whole lines from many writers onto one stream (stderr),
// so that the lines of concurrent functions never interleave mid-line.
type sink struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *sink) writeLine(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.w.Write(b) // stderr: nowhere to report a failure
}

// Write lets the sink carry lambda-local's own log lines too.
func (s *sink) Write(p []byte) (int, error) {
	s.writeLine(p)
	return len(p), nil
}

// prefixed returns a writer that prefixes every line with "[name] ", as
// `sam local` names the function a log line comes from.
func (s *sink) prefixed(name string) *lineWriter {
	return &lineWriter{sink: s, prefix: []byte("[" + name + "] ")}
}

// lineWriter buffers a partial line until its newline arrives.
type lineWriter struct {
	sink   *sink
	prefix []byte
	mu     sync.Mutex
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(w.buf[:i+1])
		w.buf = w.buf[i+1:]
	}
	// A line without an end is flushed once it is long enough to matter.
	if len(w.buf) > 64<<10 {
		w.emit(append(w.buf, '\n'))
		w.buf = nil
	}
	return len(p), nil
}

func (w *lineWriter) emit(line []byte) {
	out := make([]byte, 0, len(w.prefix)+len(line))
	w.sink.writeLine(append(append(out, w.prefix...), line...))
}

// Flush writes what remains of an unfinished line.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(append(w.buf, '\n'))
		w.buf = nil
	}
}
