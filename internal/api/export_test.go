package api

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/internal/store"
)

// fakeExports is an ExportStore in memory, as S3 would keep the objects.
type fakeExports struct {
	mu      sync.Mutex
	objects map[string][]byte
	meta    map[string][2]string // content type, filename
	writes  int
}

func (f *fakeExports) Publish(_ context.Context, key, contentType, filename string, write func(io.Writer) error) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objects == nil {
		f.objects, f.meta = map[string][]byte{}, map[string][2]string{}
	}
	if _, ok := f.objects[key]; !ok {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return "", time.Time{}, err
		}
		f.objects[key], f.meta[key] = b.Bytes(), [2]string{contentType, filename}
		f.writes++
	}
	return "https://exports.example/" + key + "?X-Amz-Signature=x", testEpoch.Add(15 * time.Minute), nil
}

// fillJob stores a job of n addresses with every result, concurrently
// (the bolt store batches concurrent writes into one transaction).
func fillJob(t testing.TB, hs *harness, id string, n int) {
	t.Helper()
	if err := hs.store.CreateJob(context.Background(), storeJob(id, n)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			hs.storeResult(t, id, i, testResult(fmt.Sprintf("user%d@example.com", i), engine.Safe))
		})
	}
	wg.Wait()
}

// csvInputs returns the input column of a CSV document after its header.
func csvInputs(t *testing.T, body []byte) []string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(rows) == 0 || strings.Join(rows[0], ",") != strings.Join(CSVHeader(), ",") {
		t.Fatalf("not Reacher's CSV (%v): %.200q", err, body)
	}
	var in []string
	for _, r := range rows[1:] {
		in = append(in, r[0])
	}
	return in
}

// TestResultsCSVWithoutLimit: as Reacher, a CSV request without limit
// gets every row (here over several store chunks, over real HTTP), from
// the offset on; JSON keeps Reacher's page of 50.
func TestResultsCSVWithoutLimit(t *testing.T) {
	hs := newHarness(t, nil)
	n := 2*streamChunk + 37
	fillJob(t, hs, "42", n)
	srv := httptest.NewServer(hs.h)
	defer srv.Close()
	for _, tt := range []struct {
		query string
		first int
	}{{"format=csv", 0}, {"format=csv&offset=600", 600}} {
		for _, v := range []string{"v0", "v1"} {
			req, _ := http.NewRequest("GET", srv.URL+"/"+v+"/bulk/42/results?"+tt.query, nil)
			req.Header.Set("x-reacher-secret", testSecret)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Total-Count") != fmt.Sprint(n) ||
				!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
				t.Fatalf("%s %s: %d %v %v", v, tt.query, resp.StatusCode, resp.Header, err)
			}
			in := csvInputs(t, body)
			if len(in) != n-tt.first || in[0] != fmt.Sprintf("user%d@example.com", tt.first) || in[len(in)-1] != fmt.Sprintf("user%d@example.com", n-1) {
				t.Errorf("%s %s: %d rows from %q to %q, want every row from %d", v, tt.query, len(in), in[0], in[len(in)-1], tt.first)
			}
		}
	}
	r := hs.do(t, "GET", "/v1/bulk/42/results", "", nil)
	if got := len(r.json(t)["results"].([]any)); got != 50 {
		t.Errorf("JSON without limit: %d results, want Reacher's 50", got)
	}
}

// failingJobs fails ListResults from a given offset on.
type failingJobs struct {
	JobStore
	from int
}

func (f failingJobs) ListResults(ctx context.Context, id string, offset, limit int) ([]store.Record, error) {
	if offset >= f.from {
		return nil, errors.New("dynamodb: throughput exceeded")
	}
	return f.JobStore.ListResults(ctx, id, offset, limit)
}

// TestResultsStreamFailure: a failure in the first chunk is still a 500; a
// later one breaks the transfer, so that no truncated file looks complete.
func TestResultsStreamFailure(t *testing.T) {
	for _, tt := range []struct {
		from    int
		wantErr bool
	}{{0, false}, {streamChunk, true}} {
		hs := newHarness(t, nil)
		fillJob(t, hs, "42", streamChunk+10)
		hs.h = New(hs.cfg, Deps{Checker: hs.checker, Jobs: failingJobs{hs.store, tt.from}, Queue: hs.queue, Now: hs.clock.Now})
		srv := httptest.NewServer(hs.h)
		req, _ := http.NewRequest("GET", srv.URL+"/v1/bulk/42/results?format=csv", nil)
		req.Header.Set("x-reacher-secret", testSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if tt.wantErr && (resp.StatusCode != 200 || err == nil) {
			t.Errorf("failure after the first chunk: %d, read error %v; want a broken transfer", resp.StatusCode, err)
		}
		if !tt.wantErr && resp.StatusCode != 500 {
			t.Errorf("failure in the first chunk: %d, want 500", resp.StatusCode)
		}
	}
}

// TestResultsCSVWithoutLimitOnLambda: where responses are buffered and
// capped (Lambda, 6 MB), the full CSV is exported once per job state and
// the client redirected to it (303, which HTTP clients follow with GET).
func TestResultsCSVWithoutLimitOnLambda(t *testing.T) {
	ex := &fakeExports{}
	hs := newHarness(t, func(c *Config, d *Deps) { c.BufferedResponses, d.Exports = true, ex })
	fillJob(t, hs, "42", 1200)
	for range 2 {
		r := hs.do(t, "GET", "/v1/bulk/42/results?format=csv", "", nil)
		loc := r.header.Get("Location")
		if r.status != http.StatusSeeOther || loc != "https://exports.example/exports/42/1200.csv?X-Amz-Signature=x" || r.json(t)["url"] != loc {
			t.Fatalf("got %d %v %s", r.status, r.header, r.body)
		}
	}
	obj := ex.objects["exports/42/1200.csv"]
	if ex.writes != 1 || len(csvInputs(t, obj)) != 1200 {
		t.Fatalf("%d exports written, %d rows", ex.writes, len(csvInputs(t, obj)))
	}
	if m := ex.meta["exports/42/1200.csv"]; m != [2]string{"text/csv; charset=utf-8", "mailprobe-job-42.csv"} {
		t.Errorf("export metadata %+v", m)
	}
	// Pages are still pages.
	if r := hs.do(t, "GET", "/v1/bulk/42/results?format=csv&limit=10", "", nil); r.status != 200 || len(csvInputs(t, r.body)) != 10 {
		t.Errorf("explicit limit: %d", r.status)
	}

	// Without an export store, the largest page and Link to the next.
	paged := newHarness(t, func(c *Config, _ *Deps) { c.BufferedResponses = true })
	fillJob(t, paged, "42", 1200)
	r := paged.do(t, "GET", "/v1/bulk/42/results?format=csv", "", nil)
	if r.status != 200 || len(csvInputs(t, r.body)) != maxResultsLimit ||
		r.header.Get("Link") != `</v1/bulk/42/results?format=csv&limit=1000&offset=1000>; rel="next"` {
		t.Errorf("paged: %d %v", r.status, r.header)
	}
}

// TestExportLocal: mailprobe serve signs its own export URLs (HMAC): the
// URL works without the secret, for the job and format it names, until it
// expires.
func TestExportLocal(t *testing.T) {
	hs := newHarness(t, func(c *Config, _ *Deps) { c.ExportKey = []byte("k") })
	fillJob(t, hs, "42", 3)
	r := hs.do(t, "POST", "/v1/bulk/42/export?format=csv", "", map[string]string{"Host": "mailprobe.local:8080", "Content-Type": ""})
	var link exportLink
	if err := json.Unmarshal(r.body, &link); r.status != 200 || err != nil || !link.ExpiresAt.Equal(testEpoch.Add(15*time.Minute)) {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	u, err := url.Parse(link.URL)
	if err != nil || u.Scheme != "http" || u.Host != "mailprobe.local:8080" || u.Path != "/v1/bulk/42/export" {
		t.Fatalf("url %q", link.URL)
	}
	get := func(target string) response {
		return hs.do(t, "GET", target, "", map[string]string{"x-reacher-secret": ""})
	}
	d := get(u.RequestURI())
	if d.status != 200 || len(csvInputs(t, d.body)) != 3 || d.header.Get("Content-Disposition") != `attachment; filename="mailprobe-job-42.csv"` {
		t.Fatalf("download: %d %v %s", d.status, d.header, d.body)
	}
	q := u.Query()
	for name, mutate := range map[string]func(url.Values){
		"other format":  func(v url.Values) { v.Set("format", "json") },
		"later expiry":  func(v url.Values) { v.Set("expires", fmt.Sprint(testEpoch.Add(time.Hour).Unix())) },
		"no signature":  func(v url.Values) { v.Del("signature") },
		"bad signature": func(v url.Values) { v.Set("signature", "AAAA") },
	} {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		mutate(v)
		if r := get(u.Path + "?" + v.Encode()); r.status != 403 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if r := get(strings.Replace(u.RequestURI(), "/42/", "/43/", 1)); r.status != 403 {
		t.Errorf("another job: %d", r.status)
	}
	hs.clock.Add(15 * time.Minute)
	if r := get(u.RequestURI()); r.status != 403 || !strings.Contains(r.errorText(t), "expired") {
		t.Errorf("expired: %d %s", r.status, r.body)
	}

	r = hs.do(t, "POST", "/v1/bulk/42/export?format=json", "", nil)
	u, _ = url.Parse(r.json(t)["url"].(string))
	j := get(u.RequestURI())
	var out struct{ Results []engine.Result }
	if err := json.Unmarshal(j.body, &out); j.status != 200 || err != nil || len(out.Results) != 3 || out.Results[2].Input != "user2@example.com" {
		t.Errorf("json export: %d %v %s", j.status, err, j.body)
	}
	for target, want := range map[string]int{"/v1/bulk/42/export?format=xml": 400, "/v1/bulk/77/export": 404} {
		if r := hs.do(t, "POST", target, "", nil); r.status != want {
			t.Errorf("POST %s: %d, want %d", target, r.status, want)
		}
	}
	if r := hs.do(t, "POST", "/v1/bulk/42/export", "", map[string]string{"x-reacher-secret": ""}); r.status != 401 {
		t.Errorf("export without the secret: %d", r.status)
	}
}

// TestExportOnLambda: with an export store the URL is the store's
// (presigned S3); without one a buffered deployment has no exports.
func TestExportOnLambda(t *testing.T) {
	ex := &fakeExports{}
	hs := newHarness(t, func(c *Config, d *Deps) { c.BufferedResponses, d.Exports = true, ex })
	fillJob(t, hs, "42", 3)
	r := hs.do(t, "POST", "/v1/bulk/42/export?format=json", "", nil)
	if r.status != 200 || r.json(t)["url"] != "https://exports.example/exports/42/3.json?X-Amz-Signature=x" {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	var out struct{ Results []json.RawMessage }
	if err := json.Unmarshal(ex.objects["exports/42/3.json"], &out); err != nil || len(out.Results) != 3 {
		t.Errorf("stored json export: %v", err)
	}
	if r := hs.do(t, "GET", "/v1/bulk/42/export?format=csv&expires=1&signature=x", "", nil); r.status != 405 {
		t.Errorf("the local download route on Lambda: %d", r.status)
	}
	none := newHarness(t, func(c *Config, _ *Deps) { c.BufferedResponses = true })
	fillJob(t, none, "42", 3)
	if r := none.do(t, "POST", "/v1/bulk/42/export", "", nil); r.status != 503 {
		t.Errorf("no export store: %d %s", r.status, r.body)
	}
}
