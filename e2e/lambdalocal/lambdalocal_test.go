// Package lambdalocal is the end-to-end test of cmd/lambda-local: it runs
// the command as a user does and talks to it over HTTP only, against the
// test DNS, SOCKS5 and SMTP servers. It is a package of its own because
// it is slow, so that it runs beside the other suites.
package lambdalocal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/cli"
	"github.com/mailprobe/mailprobe/internal/samtemplate"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
}

// mailbox matches the local parts of the job's addresses.
var mailbox = regexp.MustCompile(`^(ok|no|full)[0-9]+$`)

// domains of the test's internet: every one but nomx.test has an MX on the
// test SMTP server; catchall.test accepts every recipient.
var domains = []string{"alpha.test", "beta.test", "gamma.test", "delta.test", "catchall.test", "nomx.test"}

// internet starts the loopback DNS, SOCKS5 proxy (with auth) and SMTP
// server, and returns the engine flags that point the functions at them.
func internet(t *testing.T) []string {
	t.Helper()
	dns := dnstest.Start(t, nil)
	proxy := sockstest.Start(t, sockstest.Options{User: "e2e", Pass: "proxy-pass"})
	mail := smtptest.Start(t, smtptest.Options{
		// A round trip per reply flush keeps a batch busy long enough to
		// be interrupted.
		Delay: 15 * time.Millisecond,
		Mailbox: func(rcpt string) string {
			local, domain, _ := strings.Cut(strings.Trim(strings.ToLower(rcpt), "<>"), "@")
			// Each domain answers at its own pace, so the messages of
			// one batch (a domain's addresses each, stored together when
			// the message is done) finish one after the other.
			time.Sleep(time.Duration(slices.Index(domains, domain)) * 8 * time.Millisecond)
			// The engine's catch-all probe is 15 random letters and
			// digits: it never matches ok<digits> or full<digits>.
			switch {
			case domain == "catchall.test", mailbox.MatchString(local) && strings.HasPrefix(local, "ok"):
				return smtptest.AcceptReply
			case mailbox.MatchString(local) && strings.HasPrefix(local, "full"):
				return "552 5.2.2 mailbox full"
			}
			return smtptest.UnknownReply
		},
	})
	for _, d := range domains[:len(domains)-1] {
		dns.AddMX(d+".", 10, "mx."+d+".")
		dns.AddA("mx."+d+".", mail.Host())
	}
	cfg := filepath.Join(t.TempDir(), "backend_config.toml")
	// No politeness budget: the test's one SMTP server takes it all.
	if err := os.WriteFile(cfg, []byte("[worker]\nrcpts_per_minute_per_mx = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{"--proxy", proxy.URL(), "--dns", dns.Addr, "--smtp-port", fmt.Sprint(mail.Port()),
		"--allow-private-mx", "--smtp-timeout", "5s", "--greylist-wait", "0s", "--config", cfg}
}

// addresses is the bulk job: a few hundred addresses over the domains,
// deliverable, unknown, full, on a catch-all domain, without MX, and
// malformed.
func addresses() []string {
	var out []string
	for i := range 300 {
		d := domains[i%len(domains)]
		local := [...]string{"ok", "no", "full"}[i%3]
		out = append(out, fmt.Sprintf("%s%d@%s", local, i, d))
	}
	return append(out, "not-an-address", "two@@signs.test")
}

// serve runs `mailprobe serve` in this process with the same engine flags.
func serve(t *testing.T, flags []string) string {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := append([]string{"serve", "--listen", addr, "--data-dir", t.TempDir()}, flags...)
	go func() {
		done <- cli.Run(ctx, args, cli.Env{Stdin: strings.NewReader(""), Stdout: os.Stderr, Stderr: &logBuffer{},
			Environ: []string{"RCH__HEADER_SECRET=" + secret}})
	}()
	t.Cleanup(func() { cancel(); <-done })
	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailprobe serve did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return url
}

// TestLambdaLocal runs one lambda-local with a short visibility timeout and
// function timeout and two worker instances, then a bulk job whose batch is
// interrupted by killing the worker's emulator, and a poison message.
func TestLambdaLocal(t *testing.T) {
	flags := internet(t)
	p := startLambdaLocal(t, append(flags, "--visibility-timeout", "30s", "--function-timeout", "30s",
		"--parameter-overrides", "WorkerMaxConcurrency=2")...)
	t.Run("routes", func(t *testing.T) { testRoutes(t, p) })
	t.Run("bulk job with a worker killed mid-batch", func(t *testing.T) {
		t.Parallel()
		testBulkKill(t, p, serve(t, flags))
	})
	t.Run("poison message", func(t *testing.T) {
		t.Parallel()
		testPoison(t, p)
	})
}

// testRoutes: the template's routes reach the function; others get API
// Gateway's own 404.
func testRoutes(t *testing.T, p *process) {
	var health map[string]any
	if code := request(t, "GET", p.url+"/healthz", nil, &health); code != 200 || health["status"] != "ok" {
		t.Errorf("GET /healthz: %d %v", code, health)
	}
	var nf map[string]any
	for _, path := range []string{"/nope", "/metrics"} {
		if code := request(t, "GET", p.url+path, nil, &nf); code != 404 || nf["message"] != "Not Found" {
			t.Errorf("GET %s: %d %v, want API Gateway's 404", path, code, nf)
		}
	}
	var res map[string]any
	if code := request(t, "POST", p.url+"/v0/check_email", map[string]string{"to_email": "ok1@alpha.test"}, &res); code != 200 || res["is_reachable"] != "safe" {
		t.Errorf("check: %d %v", code, res)
	}
}

// testBulkKill submits the same job to lambda-local and to mailprobe
// serve, kills the worker instance handling the job once it has stored
// some results, and expects every address stored once, the job
// Completed, and the results equal to serve's.
func testBulkKill(t *testing.T, p *process, serveURL string) {
	input := addresses()
	before := len(p.logs.String())
	var created struct {
		JobID json.Number `json:"job_id"`
	}
	if code := request(t, "POST", p.url+"/v1/bulk", map[string]any{"input": input}, &created); code != 200 {
		t.Fatalf("bulk create: %d", code)
	}
	lambdaJob := created.JobID.String()
	if code := request(t, "POST", serveURL+"/v1/bulk", map[string]any{"input": input}, &created); code != 200 {
		t.Fatalf("serve bulk create: %d", code)
	}
	serveJob := created.JobID.String()

	// The victim is a worker instance that has concluded ten of the job's
	// addresses in the batch it is still working on (a message's results
	// are stored, and logged, together when the message is done); it is
	// killed before that batch is done.
	var victim string
	p.logs.waitFor(t, 2*time.Minute, "a worker concluding the job's addresses mid-batch", func(s string) []string {
		counts := map[string]int{} // instance → addresses concluded in its current batch
		busy := map[string]bool{}  // instance → in a batch
		for _, line := range strings.Split(s[before:], "\n") {
			switch name, rest, _ := strings.Cut(line, "] "); {
			case strings.Contains(line, "msg=invoking function=SqsWorkerFunction#"):
				fn := strings.Fields(line[strings.Index(line, "function=")+len("function="):])[0]
				busy[fn], counts[fn] = true, 0
			case strings.Contains(line, `msg="batch done" function=SqsWorkerFunction#`):
				fn := strings.Fields(line[strings.Index(line, "function=")+len("function="):])[0]
				busy[fn] = false
			case strings.HasPrefix(name, "[SqsWorkerFunction#") && strings.Contains(rest, "Verification completed") &&
				strings.Contains(rest, `"job_id":"`+lambdaJob+`"`):
				counts[name[1:]]++
			}
		}
		for fn, n := range counts {
			if busy[fn] && n >= 10 {
				victim = fn
				return []string{victim}
			}
		}
		return nil
	})
	pid := 0
	for _, m := range started.FindAllStringSubmatch(p.logs.String(), -1) {
		if m[1] == victim {
			pid, _ = strconv.Atoi(m[2])
		}
	}
	if pid == 0 {
		t.Fatalf("no pid logged for %s", victim)
	}
	// The execution environment dies: the emulator's whole process group.
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s (pid %d): %v", victim, pid, err)
	}
	p.logs.waitFor(t, time.Minute, "the failed batch", func(s string) []string {
		if strings.Contains(s[before:], "function="+victim+" outcome=crashed") {
			return []string{""}
		}
		return nil
	})

	// The batch was interrupted: work remains until its messages come back.
	var status map[string]any
	if request(t, "GET", p.url+"/v1/bulk/"+lambdaJob, nil, &status); status["job_status"] == "Completed" {
		t.Fatalf("the job completed although %s was killed mid-batch: %v", victim, status)
	}
	got := results(t, p.url, lambdaJob, len(input), 4*time.Minute)
	want := results(t, serveURL, serveJob, len(input), 2*time.Minute)
	for i := range input {
		if got[i]["input"] != input[i] {
			t.Errorf("result %d is for %v, want %s", i, got[i]["input"], input[i])
		}
		delete(got[i], "debug")
		delete(want[i], "debug")
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("result %d (%s) differs from mailprobe serve's:\n got %v\nwant %v", i, input[i], got[i], want[i])
		}
	}
	// The whole CSV: on Lambda a redirect to the export in the S3 bucket
	// (the S3 emulator here), from serve a stream; the same rows.
	lambdaCSV, serveCSV := csv(t, p.url, lambdaJob), csv(t, serveURL, serveJob)
	if lambdaCSV != serveCSV || strings.Count(lambdaCSV, "\n") != len(input)+1 {
		t.Errorf("CSV export differs from mailprobe serve's or lacks rows:\n%s\n---\n%s", tail(lambdaCSV, 2000), tail(serveCSV, 2000))
	}
}

// csv reads a job's results as one CSV, following a redirect to an export.
func csv(t *testing.T, base, job string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/bulk/"+job+"/results?format=csv", nil)
	req.Header.Set("x-reacher-secret", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: CSV: %d %s", base, resp.StatusCode, b)
	}
	return string(b)
}

// results waits for the job to complete, checks that each address was
// processed once, and returns the results in input order.
func results(t *testing.T, base, job string, n int, wait time.Duration) []map[string]any {
	t.Helper()
	var status map[string]any
	deadline := time.Now().Add(wait)
	for {
		request(t, "GET", base+"/v1/bulk/"+job, nil, &status)
		if status["job_status"] == "Completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s at %s not completed after %s: %v", job, base, wait, status)
		}
		time.Sleep(time.Second)
	}
	if fmt.Sprint(status["total_records"]) != fmt.Sprint(n) || fmt.Sprint(status["total_processed"]) != fmt.Sprint(n) {
		t.Errorf("%s: status %v, want %d records processed once each", base, status, n)
	}
	var page struct {
		Results []map[string]any `json:"results"`
	}
	if code := request(t, "GET", base+"/v1/bulk/"+job+"/results?format=json&limit=1000", nil, &page); code != 200 || len(page.Results) != n {
		t.Fatalf("%s: results: %d, %d results, want %d", base, code, len(page.Results), n)
	}
	return page.Results
}

// testPoison puts a message no worker can read on the job queue directly:
// it is received maxReceiveCount times, then SQS moves it to the
// dead-letter queue.
func testPoison(t *testing.T, p *process) {
	d, err := samtemplate.Load(samtemplate.Source{Template: "../../infra/template.yaml", Command: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	stack, _ := d.LocalStack(nil, nil)
	evs, err := d.SQSEvents(d.Resolver(stack))
	if err != nil || len(evs) == 0 {
		t.Fatalf("SQS events %v: %v", evs, err)
	}
	stack.Attrs[d.QueueDeadLetterTarget(evs[0].Queue)+".Arn"] = "arn"
	q, err := d.Queue(evs[0].Queue, d.Resolver(stack))
	if err != nil {
		t.Fatal(err)
	}
	client := sqs.New(sqs.Options{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(p.out.Endpoints["SQS"])})
	ctx := context.Background()
	sent, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.out.Resources[q.ID]),
		MessageBody: aws.String(`{"this is": "not a job message"}`)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(sent.MessageId)
	deadline := time.Now().Add(4 * time.Minute)
	for {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(p.out.Resources[q.DeadLetterQueue]), WaitTimeSeconds: 5})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 1 && aws.ToString(out.Messages[0].MessageId) == id {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the poison message is not in %s after 4 minutes", q.DeadLetterQueue)
		}
	}
	// The emulator may move the message while its last invocation ends.
	received := func() int { return countLines(p.logs.String(), `msg="batch done"`, id) }
	for wait := time.Now().Add(30 * time.Second); received() < q.MaxReceiveCount && time.Now().Before(wait); {
		time.Sleep(100 * time.Millisecond)
	}
	if n := received(); n != q.MaxReceiveCount {
		t.Errorf("the poison message was handed to the worker %d times, want %d (maxReceiveCount)", n, q.MaxReceiveCount)
	}
}

// countLines counts the lines of s that start with prefix (anywhere
// when prefix starts with "msg=") and contain sub.
func countLines(s, prefix, sub string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		has := strings.HasPrefix(line, prefix)
		if strings.HasPrefix(prefix, "msg=") {
			has = strings.Contains(line, prefix)
		}
		if has && strings.Contains(line, sub) {
			n++
		}
	}
	return n
}
