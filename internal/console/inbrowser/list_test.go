package inbrowser

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// listCSV writes a CSV file of n people, the address in the third column
// of four, some fields quoted, and returns its path. The addresses mix
// every outcome: mailboxes that exist, unknown ones, a catch-all domain,
// a domain without mail servers and strings that are not addresses.
func listCSV(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "people.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.UseCRLF = true
	_ = w.Write([]string{"id", "name", "Email", "signed up"})
	for i := range n {
		var addr string
		switch i % 10 {
		case 0, 1, 2, 3:
			addr = fmt.Sprintf("u%d@good.test", i)
		case 4, 5:
			addr = fmt.Sprintf("gone%d@good.test", i)
		case 6, 7:
			addr = fmt.Sprintf("person%d@catchall.test", i)
		case 8:
			addr = fmt.Sprintf("someone%d@nomx.test", i)
		default:
			addr = fmt.Sprintf("not an address %d", i)
		}
		_ = w.Write([]string{fmt.Sprint(i + 1), fmt.Sprintf("Doe, Jane %d", i), addr, "2026-01-02"})
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		t.Fatal(err)
	}
	return path
}

// progress is the state of the job view as the page shows it.
type progress struct {
	Value, Max float64
	Text       string
	Status     string
	Hash       string
}

func readProgress(t *testing.T, tb *tab) progress {
	t.Helper()
	return eval[progress](t, tb, `(() => {
		const p = document.getElementById('job-progress');
		return {Value: p.value, Max: p.max, Text: document.getElementById('job-progress-text').textContent,
			Status: document.getElementById('job').dataset.status || '', Hash: location.hash};
	})()`)
}

type summary struct {
	TotalRecords   int `json:"total_records"`
	TotalProcessed int `json:"total_processed"`
	Summary        struct {
		Safe    int `json:"total_safe"`
		Risky   int `json:"total_risky"`
		Invalid int `json:"total_invalid"`
		Unknown int `json:"total_unknown"`
	} `json:"summary"`
	JobStatus string `json:"job_status"`
}

// chartCounts reads the chart: each bar's count, from its text.
func chartCounts(t *testing.T, tb *tab) map[string]int {
	t.Helper()
	texts := eval[map[string]string](t, tb, `Object.fromEntries([...document.querySelectorAll('#job-chart g.bar')]
		.map((g) => [g.dataset.verdict, g.querySelector('.bar-count').textContent]))`)
	out := map[string]int{}
	for v, s := range texts {
		var n int
		if _, err := fmt.Sscanf(s, "%d (", &n); err != nil {
			t.Fatalf("bar %s reads %q", v, s)
		}
		out[v] = n
	}
	return out
}

// TestList uploads a CSV file of a few hundred people, picks the address
// column, starts the job and watches it: the progress bar moves and
// reaches 100 %, the chart's counts are the API's summary, the table and
// its filter hold every result, and #job=N resumes the view after a
// reload.
func TestList(t *testing.T) {
	const n = 300
	// One RCPT at a time, 40 ms each: the job takes a few seconds, and
	// the page shows it part done.
	w := newWorld(t, smtptest.Options{Delay: 40 * time.Millisecond})
	base := w.serve(t, false)
	tb := newTab(t, 1100, 1000)
	tb.do(t, chromedp.Navigate(base+"/"))
	enterSecret(t, tb, secret)

	tb.do(t, chromedp.SetUploadFiles(chromedp.ID("list-file"), []string{listCSV(t, n)}))
	waitFor(t, tb, `!document.getElementById('list-columns').hidden`, 5*time.Second)
	if col := eval[string](t, tb, `document.getElementById('list-column').value`); col != "2" {
		t.Errorf("column %s chosen, want 2 (Email)", col)
	}
	if got := text(t, tb, "list-count"); !strings.Contains(got, "300 addresses in column “Email” of people.csv") {
		t.Errorf("count line %q", got)
	}
	tb.shot(t, "1-list-file-picked", "list")

	tb.do(t, chromedp.Click(chromedp.ID("list-submit")))
	waitFor(t, tb, `/^#job=\d+$/.test(location.hash) && !document.getElementById('job').hidden`, 10*time.Second)
	id := strings.TrimPrefix(readProgress(t, tb).Hash, "#job=")

	// Watch the bar move; keep the last state strictly between empty and
	// full (the one with the most to see), which the README shows.
	var mid []byte
	var seen float64
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p := readProgress(t, tb)
		if p.Status == "Completed" {
			break
		}
		if p.Value > seen && p.Value < p.Max && strings.Contains(p.Text, "left") {
			seen = p.Value
			mid = tb.shot(t, "2-list-mid-job", "list")
			t.Logf("mid-job: %s", p.Text)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not completed: %+v", id, p)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if mid == nil {
		t.Error("the job finished before the page showed it part done")
	} else if *docsShot {
		if err := os.WriteFile(filepath.Join("..", "..", "..", "docs", "console-list.png"), mid, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	p := readProgress(t, tb)
	if p.Value != p.Max || p.Max != n || !strings.Contains(p.Text, "300 of 300 checked (100 %)") {
		t.Errorf("finished progress %+v", p)
	}
	var api summary
	if err := json.Unmarshal(apiGet(t, base+"/v1/bulk/"+id), &api); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"safe": api.Summary.Safe, "risky": api.Summary.Risky,
		"invalid": api.Summary.Invalid, "unknown": api.Summary.Unknown}
	if got := chartCounts(t, tb); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("chart %v, API summary %v", got, want)
	}
	if want["safe"] != 120 || want["risky"] != 60 || want["invalid"] != 120 {
		t.Errorf("API summary %v, want 120 safe, 60 risky, 120 invalid", want)
	}
	waitFor(t, tb, fmt.Sprintf(`document.querySelectorAll('#results tbody tr').length === %d`, n), 10*time.Second)
	tb.shot(t, "3-list-completed", "list")

	checkFilter(t, tb, want)
	checkDownloads(t, tb, base, id)
	checkResume(t, tb, base, id, want)
}

// checkDownloads clicks each download button: the page asks the API for
// a short-lived export URL and opens it; the file the browser saves is
// the API's own answer for the job's results.
func checkDownloads(t *testing.T, tb *tab, base, id string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := chromedp.Call(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true),
	}); err != nil {
		t.Fatal(err)
	}
	csvWant := apiGet(t, base+"/v1/bulk/"+id+"/results?format=csv")
	jsonWant := apiGet(t, base+"/v1/bulk/"+id+"/results?format=json&limit=1000")
	for _, tt := range []struct {
		button, format string
		want           []byte
	}{
		{"download-csv", "csv", csvWant},
		{"download-json", "json", jsonWant},
	} {
		began := chromedp.Events(tb.ctx, browser.DownloadWillBegin)
		progress := chromedp.Events(tb.ctx, browser.DownloadProgress)
		tb.do(t, chromedp.Click(chromedp.ID(tt.button)))
		var name string
		for ev, err := range began {
			if err != nil {
				t.Fatal(err)
			}
			name = ev.SuggestedFilename
			break
		}
		if want := "mailprobe-job-" + id + "." + tt.format; name != want {
			t.Errorf("download named %q, want %q", name, want)
		}
		var got []byte
		for ev, err := range progress {
			if err != nil {
				t.Fatal(err)
			}
			if ev.State == browser.DownloadProgressStateCanceled {
				t.Fatalf("%s download canceled", tt.format)
			}
			if ev.State == browser.DownloadProgressStateCompleted {
				if got, err = os.ReadFile(filepath.Join(dir, ev.GUID)); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
		if tt.format == "json" {
			got, tt.want = resultsOf(t, got), resultsOf(t, tt.want)
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("%s download differs from the API's results:\n got %.400s\nwant %.400s", tt.format, got, tt.want)
		}
		waitFor(t, tb, `document.getElementById('download-status').textContent.includes('download started')`, 5*time.Second)
	}
	if st := text(t, tb, "download-status"); !strings.Contains(st, "the link works until") {
		t.Errorf("download status %q", st)
	}
}

// resultsOf is the "results" array of a JSON results body, re-encoded
// compactly: the export and a results page share it.
func resultsOf(t *testing.T, body []byte) []byte {
	t.Helper()
	var v struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("results body: %v\n%.300s", err, body)
	}
	b, err := json.Marshal(v.Results)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// checkFilter picks each verdict in the filter, from the keyboard, and
// counts the rows left visible.
func checkFilter(t *testing.T, tb *tab, want map[string]int) {
	t.Helper()
	for _, v := range []string{"risky", "invalid", "safe", "unknown"} {
		tb.do(t, chromedp.SetValue(chromedp.ID("result-filter"), v))
		shown := eval[int](t, tb, `[...document.querySelectorAll('#results tbody tr')].filter((r) => !r.hidden).length`)
		if shown != want[v] {
			t.Errorf("filter %s shows %d rows, want %d", v, shown, want[v])
		}
		bad := eval[int](t, tb, fmt.Sprintf(`[...document.querySelectorAll('#results tbody tr')].filter((r) => !r.hidden && !r.textContent.includes(%q)).length`, strings.ToUpper(v[:1])+v[1:]))
		if bad != 0 {
			t.Errorf("filter %s shows %d rows of another verdict", v, bad)
		}
		if v == "risky" {
			tb.shot(t, "4-list-filter-risky", "list")
		}
	}
}

var jobHash = regexp.MustCompile(`^#job=\d+$`)

// checkResume reloads the page at /#job=N: the view comes back, finished.
func checkResume(t *testing.T, tb *tab, base, id string, want map[string]int) {
	t.Helper()
	tb.do(t, chromedp.Navigate(base+"/#job="+id), chromedp.Reload())
	waitFor(t, tb, `document.getElementById('job').dataset.status === 'Completed'`, 10*time.Second)
	if p := readProgress(t, tb); !jobHash.MatchString(p.Hash) || p.Value != p.Max {
		t.Errorf("resumed view %+v", p)
	}
	if got := chartCounts(t, tb); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resumed chart %v, want %v", got, want)
	}
}
