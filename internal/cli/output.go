package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/api"
)

// resultWriter writes results in one of the output formats.
type resultWriter interface {
	write(r *engine.Result) error
	flush() error
}

// newResultWriter returns the writer of format: "json" (one result per
// line, Reacher's JSON) or "csv" (the bulk export's columns, header first:
// the API's own CSV writer).
func newResultWriter(format string, w io.Writer) (resultWriter, error) {
	switch format {
	case "", "json":
		return jsonLines{enc: json.NewEncoder(w)}, nil
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write(api.CSVHeader()); err != nil {
			return nil, err
		}
		return csvRows{cw}, nil
	}
	return nil, fmt.Errorf("--format must be json or csv, got %q", format)
}

type jsonLines struct{ enc *json.Encoder }

func (j jsonLines) write(r *engine.Result) error { return j.enc.Encode(r) }
func (jsonLines) flush() error                   { return nil }

type csvRows struct{ w *csv.Writer }

func (c csvRows) write(r *engine.Result) error { return c.w.Write(api.CSVRow(r)) }
func (c csvRows) flush() error {
	c.w.Flush()
	return c.w.Error()
}

// inOrder hands results to a writer in input order, as soon as every
// earlier one is there: a slow domain holds back the output after it, not
// the work.
type inOrder struct {
	mu      sync.Mutex
	w       resultWriter
	results []*engine.Result
	next    int
	err     error
}

func newInOrder(w resultWriter, n int) *inOrder {
	return &inOrder{w: w, results: make([]*engine.Result, n)}
}

// put stores result i and writes what it completes.
func (o *inOrder) put(i int, r engine.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.results[i] = &r
	for o.next < len(o.results) && o.results[o.next] != nil && o.err == nil {
		o.err = o.w.write(o.results[o.next])
		o.results[o.next] = nil // written: let it go
		o.next++
	}
}

// close flushes the writer; it reports the first write error.
func (o *inOrder) close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return fmt.Errorf("write results: %w", o.err)
	}
	if err := o.w.flush(); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// progress redraws one status line on a terminal: results so far, and the
// addresses waiting for a retry with the time to the next one.
type progress struct {
	w     io.Writer
	total int
	board *retryBoard
	now   func() time.Time

	mu   sync.Mutex
	done int
}

// newProgress returns a progress line on w, or nil when w is not a
// terminal (a file or a pipe gets no carriage returns).
func newProgress(w io.Writer, total int, board *retryBoard) *progress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &progress{w: w, total: total, board: board, now: time.Now}
}

// add counts one result and redraws the line.
func (p *progress) add() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.draw()
}

// tick redraws the line every second until stop is closed, so the time to
// the next retry counts down while nothing else happens.
func (p *progress) tick(stop <-chan struct{}) {
	if p == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// draw rewrites the line; p.mu is held.
func (p *progress) draw() { fmt.Fprint(p.w, "\r\x1b[K"+p.line()) }

// line is the text of the status line.
func (p *progress) line() string {
	s := fmt.Sprintf("mailprobe check: %d/%d done", p.done, p.total)
	if n, next := p.board.next(); n > 0 {
		s += fmt.Sprintf(", %d waiting for a retry (next in %s)", n, max(0, next.Sub(p.now())).Round(time.Second))
	}
	return s
}

// end finishes the line.
func (p *progress) end() {
	if p == nil {
		return
	}
	fmt.Fprintln(p.w)
}
