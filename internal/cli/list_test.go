package cli

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/api"
	"github.com/mailprobe/mailprobe/internal/testenv/mailfleet"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// TestCheckListSessions runs the benchmark's list (tarpit, hang-up after
// EHLO, greylisting, and nine ordinary domains) with short waits and
// counts the sessions each server saw: the batch path opens one session
// per domain and attempt. The attempts: one for an ordinary domain; the
// check and its greylist_wait re-ask for the greylisting one; the check
// and the retry policy's one connection retry for the tarpit and the
// hang-up.
func TestCheckListSessions(t *testing.T) {
	f := mailfleet.Start(t, mailfleet.Bench())
	code, out, stderr := run(t, f.Lines(), f.CheckArgs("--smtp-timeout", "300ms", "--greylist-wait", "50ms", "-")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(f.Emails) {
		t.Fatalf("%d results for %d addresses", len(lines), len(f.Emails))
	}
	for i, line := range lines {
		var r struct {
			Input       string `json:"input"`
			IsReachable string `json:"is_reachable"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if r.Input != f.Emails[i] || r.IsReachable != mailfleet.Verdict(r.Input) {
			t.Errorf("line %d: %s %s, want %s %s", i, r.Input, r.IsReachable, f.Emails[i], mailfleet.Verdict(f.Emails[i]))
		}
	}
	for d, s := range f.Servers {
		if got, want := s.Sessions(), mailfleet.Attempts(d); got != want {
			t.Errorf("%s: %d sessions, want %d", d, got, want)
		}
	}
}

// TestCheckListRetrySchedule checks that the CLI follows the retry
// policy: a greylisted address, with no greylist_wait, is asked again on
// the schedule and comes out with a definite answer.
func TestCheckListRetrySchedule(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]bool{}
	greylist := func(rcpt string) string { // no wait named: the schedule's
		mu.Lock()
		defer mu.Unlock()
		switch rcpt = strings.ToLower(rcpt); {
		case !seen[rcpt]:
			seen[rcpt] = true
			return "450 4.7.1 Recipient address rejected: Greylisted"
		case rcpt == "alice@grey.test":
			return "250 2.1.5 OK"
		}
		return "550 5.1.1 user unknown"
	}
	f := mailfleet.Start(t, []mailfleet.Domain{{Name: "grey.test", Opts: smtptest.Options{Mailbox: greylist}}})
	code, out, stderr := run(t, "", f.CheckArgs("--retry-schedule", "100ms", "alice@grey.test", "zed@grey.test")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, `"input":"alice@grey.test","is_reachable":"safe"`) ||
		!strings.Contains(out, `"input":"zed@grey.test","is_reachable":"invalid"`) {
		t.Errorf("results after the retry:\n%s", out)
	}
	if s := f.Servers["grey.test"].Sessions(); s != 2 {
		t.Errorf("%d sessions, want 2: the check and one retry", s)
	}
}

// TestCheckListFiles reads a CSV file's named column and writes the
// results as CSV with the bulk export's columns, in input order.
func TestCheckListFiles(t *testing.T) {
	f := mailfleet.Start(t, mailfleet.Bench()[3:5])
	dir := t.TempDir()
	in := filepath.Join(dir, "list.csv")
	body := "\ufeffName,E-Mail,Note\nA,bob@mail0.test,x\nB,nobody@catchall.test\nC,,empty\nD,carol@mail0.test,\"a, b\"\nE,not an address,\n"
	if err := os.WriteFile(in, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(dir, "out.csv")
	code, stdout, stderr := run(t, "", f.CheckArgs("--input", in, "--column", "e-mail", "--output", outPath, "--format", "csv")...)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q: %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || !reflect.DeepEqual(rows[0], api.CSVHeader()) {
		t.Fatalf("csv rows %q, want the bulk header and 4 rows", rows)
	}
	want := [][2]string{{"bob@mail0.test", "safe"}, {"nobody@catchall.test", "risky"}, {"carol@mail0.test", "safe"}, {"not an address", "invalid"}}
	for i, w := range want {
		if rows[i+1][0] != w[0] || rows[i+1][1] != w[1] {
			t.Errorf("row %d = %q, want %s %s", i+1, rows[i+1][:2], w[0], w[1])
		}
	}
}

func TestCheckListInputErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lines := write("lines.txt", "a@b.test\n")
	sheet := write("sheet.csv", "name,email\nA,a@b.test\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"check", "--input", filepath.Join(dir, "nope.txt")}, "nope.txt"},
		{"a CSV read as lines", []string{"check", "--input", sheet}, "--column"},
		{"no such column", []string{"check", "--input", sheet, "--column", "mail"}, `no column "mail"`},
		{"--column without --input", []string{"check", "--column", "email", "a@b.test"}, "--column needs --input"},
		{"bad format", []string{"check", "--input", lines, "--format", "xml"}, "--format"},
		{"bad retry schedule", []string{"check", "--retry-schedule", "soon", "a@b.test"}, "--retry-schedule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, "", tt.args...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want an error naming %q", code, stderr, tt.want)
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	b := newRetryBoard()
	p := &progress{total: 60, board: b, now: func() time.Time { return now }, done: 41}
	if got, want := p.line(), "mailprobe check: 41/60 done"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	b.set([]pending{{i: 3, due: now.Add(90 * time.Second)}, {i: 7, due: now.Add(4 * time.Minute)}})
	if got, want := p.line(), "mailprobe check: 41/60 done, 2 waiting for a retry (next in 1m30s)"; got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	if newProgress(&strings.Builder{}, 1, b) != nil {
		t.Error("a progress line on something that is not a terminal")
	}
}
