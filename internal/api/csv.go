package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
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
// header (X-Job-Status) because CSV has no place for it. Values are written
// as they are, like Reacher: a spreadsheet that evaluates an input such as
// "=cmd@x.com" as a formula is the reader's concern (documented).
func (s *server) writeCSV(w http.ResponseWriter, id, status string, recs []store.Record) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write(CSVHeader()) // writes to a bytes.Buffer cannot fail
	for _, rec := range recs {
		row, err := csvRow(rec.Result)
		if err != nil {
			s.internalError(w, fmt.Errorf("job %s result %d: %w", id, rec.Index, err))
			return
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		s.internalError(w, fmt.Errorf("write csv: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="mailprobe-job-`+id+`.csv"`)
	h.Set("X-Job-Status", status)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// csvRow flattens one stored result.
func csvRow(raw json.RawMessage) ([]string, error) {
	var r engine.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode stored result: %w", err)
	}
	return CSVRow(&r), nil
}

// CSVRow flattens a result into CSVHeader's columns. Reacher's exporter
// reads a key that never exists for mx.accepts_mail and writes the error
// object as raw JSON; here every column carries the real value, and error
// is "<type>: <message>" of the first failed step, smtp before mx before
// misc.
func CSVRow(r *engine.Result) []string {
	b := strconv.FormatBool
	gravatar := ""
	if r.Misc.Value.GravatarURL != nil {
		gravatar = *r.Misc.Value.GravatarURL
	}
	var stepErr string
	for _, e := range []*engine.StepError{r.SMTP.Err, r.MX.Err, r.Misc.Err} {
		if e != nil {
			stepErr = e.Type + ": " + e.Message
			break
		}
	}
	return []string{
		r.Input, string(r.IsReachable),
		b(r.Misc.Value.IsDisposable), b(r.Misc.Value.IsRoleAccount), gravatar,
		b(r.MX.Value.AcceptsMail),
		b(r.SMTP.Value.CanConnectSMTP), b(r.SMTP.Value.HasFullInbox), b(r.SMTP.Value.IsCatchAll),
		b(r.SMTP.Value.IsDeliverable), b(r.SMTP.Value.IsDisabled),
		b(r.Syntax.IsValidSyntax), r.Syntax.Domain, r.Syntax.Username,
		stepErr,
	}
}
