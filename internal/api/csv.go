package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/store"
)

// CSVHeader is Reacher's CSV export header, column for column
// (backend/src/http/v1/bulk/get_results/csv_helper.rs). `mailprobe check
// --format csv` writes the same columns.
func CSVHeader() []string {
	return []string{
		"input", "is_reachable", "misc.is_disposable", "misc.is_role_account", "misc.gravatar_url",
		"mx.accepts_mail", "smtp.can_connect", "smtp.has_full_inbox", "smtp.is_catch_all",
		"smtp.is_deliverable", "smtp.is_disabled", "syntax.is_valid_syntax", "syntax.domain",
		"syntax.username", "error",
	}
}

// writeCSV sends one page of results as CSV. The job status travels in a
// header (X-Job-Status) because CSV has no place for it.
func (s *server) writeCSV(w http.ResponseWriter, id, status string, recs []store.Record) {
	var buf bytes.Buffer
	enc := newResultsEncoder(&buf, "csv")
	for _, rec := range recs {
		if err := enc.add(rec); err != nil {
			s.internalError(w, fmt.Errorf("job %s result %d: %w", id, rec.Index, err))
			return
		}
	}
	if err := enc.end(); err != nil {
		s.internalError(w, fmt.Errorf("write csv: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentTypes["csv"])
	h.Set("Content-Disposition", `attachment; filename="`+exportFilename(id, "csv")+`"`)
	h.Set("X-Job-Status", status)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// exportFilename is the download name of a job's results.
func exportFilename(id, format string) string { return "mailprobe-job-" + id + "." + format }

// writeResults writes a job's stored results from offset on, in format,
// to w, reading the store streamChunk results at a time and calling flush
// after each chunk: memory stays constant whatever the job's size. While
// a job runs, a result stored before the offset shifts the next chunk by
// one; results are listed by index, so one already written is skipped.
func (s *server) writeResults(ctx context.Context, w io.Writer, id, format string, offset int, flush func()) error {
	enc := newResultsEncoder(w, format)
	last := -1
	for {
		recs, err := s.deps.Jobs.ListResults(ctx, id, offset, streamChunk)
		if err != nil {
			return fmt.Errorf("list results of %s: %w", id, err)
		}
		for _, rec := range recs {
			if rec.Index <= last {
				continue
			}
			last = rec.Index
			if err := enc.add(rec); err != nil {
				return fmt.Errorf("job %s result %d: %w", id, rec.Index, err)
			}
		}
		if err := enc.flush(); err != nil {
			return err
		}
		if flush != nil {
			flush()
		}
		if len(recs) < streamChunk {
			return enc.end()
		}
		offset += len(recs)
	}
}

// resultsEncoder writes results one at a time as CSV (Reacher's columns)
// or as JSON ({"results":[...]}, Reacher's results body).
type resultsEncoder struct {
	format string
	w      io.Writer
	cw     *csv.Writer
	n      int
	err    error // the first write error, kept
}

func newResultsEncoder(w io.Writer, format string) *resultsEncoder {
	e := &resultsEncoder{format: format, w: w}
	if format == "csv" {
		e.cw = csv.NewWriter(w)
		e.err = e.cw.Write(CSVHeader())
	} else {
		e.write([]byte(`{"results":[`))
	}
	return e
}

func (e *resultsEncoder) write(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}

// add writes one result.
func (e *resultsEncoder) add(rec store.Record) error {
	if e.err != nil {
		return e.err
	}
	if e.cw != nil {
		row, err := csvRow(rec.Result)
		if err != nil {
			return err
		}
		e.err = e.cw.Write(row)
		return e.err
	}
	if e.n > 0 {
		e.write([]byte{','})
	}
	e.n++
	if len(rec.Result) == 0 {
		e.write([]byte("null"))
		return e.err
	}
	e.write(rec.Result)
	return e.err
}

// flush pushes buffered CSV rows to the writer.
func (e *resultsEncoder) flush() error {
	if e.cw != nil && e.err == nil {
		e.cw.Flush()
		e.err = e.cw.Error()
	}
	return e.err
}

// end finishes the document.
func (e *resultsEncoder) end() error {
	if e.cw == nil {
		e.write([]byte("]}"))
	}
	return e.flush()
}

// csvRow flattens one stored result.
func csvRow(raw json.RawMessage) ([]string, error) {
	var r engine.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode stored result: %w", err)
	}
	return CSVRow(&r), nil
}

// CSVRow flattens a result into CSVHeader's columns; every CSV the project
// writes (the API's pages, streams and exports, `mailprobe check --format
// csv`) goes through it. Reacher's exporter reads a key that never exists
// for mx.accepts_mail and writes the error object as raw JSON; here every
// column carries the real value, and error is "<type>: <message>" of the
// first failed step, smtp before mx before misc. Every cell is neutralised
// against formula injection (safeCell).
func CSVRow(r *engine.Result) []string {
	b := strconv.FormatBool
	gravatar := ""
	if r.Misc.Value.GravatarURL != nil {
		gravatar = *r.Misc.Value.GravatarURL
	}
	var stepErr string
	for _, e := range []*engine.StepError{r.SMTP.Err, r.MX.Err, r.Misc.Err} {
		if e != nil {
			stepErr = e.Type + ": " + e.Text()
			break
		}
	}
	row := []string{
		r.Input, string(r.IsReachable),
		b(r.Misc.Value.IsDisposable), b(r.Misc.Value.IsRoleAccount), gravatar,
		b(r.MX.Value.AcceptsMail),
		b(r.SMTP.Value.CanConnectSMTP), b(r.SMTP.Value.HasFullInbox), b(r.SMTP.Value.IsCatchAll),
		b(r.SMTP.Value.IsDeliverable), b(r.SMTP.Value.IsDisabled),
		b(r.Syntax.IsValidSyntax), r.Syntax.Domain, r.Syntax.Username,
		stepErr,
	}
	for i := range row {
		row[i] = safeCell(row[i])
	}
	return row
}

// safeCell neutralises a cell that a spreadsheet would read as a formula,
// as OWASP's CSV injection guidance recommends: a value starting with =,
// +, -, @, a tab or a carriage return gets a leading single quote, which
// spreadsheets show as text. All of these may start a valid local part
// ("=cmd|' /C calc'!A0"@example.com), so input and syntax.username are
// attacker-controlled; the other columns are treated the same way for
// safety. encoding/csv then quotes the cell where CSV needs it.
func safeCell(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + v
	}
	return v
}
