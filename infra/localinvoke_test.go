package infra

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	rie.Cleanup()
	os.Exit(code)
}

// functionPackages are the packages the Makefile's build-<Function>
// targets build.
var functionPackages = map[string]string{"ApiFunction": "./functions/api", "SqsWorkerFunction": "./functions/sqsworker"}

// TestLocalInvokeRehearsal runs the README's local steps: `make
// sam-env-vars` with the README's ARGS (the test's proxy in place of the
// example's, and a stack name of its own), then `sam local invoke` of every
// events/*.json under the Lambda RIE with the environment SAM gives the
// function: the variables the template declares, valued from the env-vars
// file, plus SAM's AWS_* variables. The only additions are the test's
// loopback DNS and SMTP port, which keep test traffic off the internet.
// Each event goes to the function the template routes it to, as
// `sam local invoke <Function> -e <file>` names it.
func TestLocalInvokeRehearsal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs both functions under the RIE; skipped with -short")
	}
	dns := dnstest.Start(t, nil)
	proxy := sockstest.Start(t, sockstest.Options{User: "local", Pass: "local-pass"})
	mail := smtptest.Start(t, smtptest.Options{Users: map[string]string{
		"someone@example.com": "250 OK", "alice@example.com": "250 OK", "bob@example.com": "250 OK",
		"carol@example.org": "250 OK", "first@example.com": "250 OK", "third@example.com": "250 OK",
	}})
	for _, d := range []string{"example.com.", "example.org.", "mail.example.test."} {
		dns.AddMX(d, 10, "mx."+d)
		dns.AddA("mx."+d, mail.Host())
	}
	sq, ddb := awsemu.SQS(t), awsemu.DynamoDB(t)
	envFile := filepath.Join(t.TempDir(), "env-vars.json")
	args := readmeEnvVarsArgs(t, proxy.URL()) + " -stack-name " + awsemu.Name(t, "local")
	cmd := exec.Command("make", "-s", "sam-env-vars", "SAM_ENV_VARS="+envFile, "ARGS="+args)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "MAILPROBE_SQS_ENDPOINT="+aws.ToString(sq.Options().BaseEndpoint),
		"MAILPROBE_DYNAMODB_ENDPOINT="+aws.ToString(ddb.Options().BaseEndpoint), "MAILPROBE_S3_ENDPOINT="+awsemu.S3Endpoint(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make sam-env-vars ARGS=%q: %v\n%s", args, err, out)
	}
	var file map[string]map[string]string
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	d, r := deployment(t, nil)
	loopback := []string{"RCH__DNS=" + dns.Addr, "RCH__SMTP_PORT=" + strconv.Itoa(mail.Port()), "RCH__ALLOW_PRIVATE_MX=true"}
	fns := map[string]*rie.Function{}
	for _, id := range functionIDs {
		fns[id] = rie.Start(t, rie.Build(t, functionPackages[id]), append(samLocalEnv(t, d, r, id, file), loopback...)...)
	}
	routes, err := d.Routes(r)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := d.SQSEvents(r)
	if err != nil || len(evs) != 1 {
		t.Fatalf("SQS events %v, %v", evs, err)
	}
	files, _ := filepath.Glob(filepath.Join("..", "events", "*.json"))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ev, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var probe struct {
				RouteKey *string `json:"routeKey"`
				Records  []any   `json:"Records"`
			}
			if err := json.Unmarshal(ev, &probe); err != nil {
				t.Fatal(err)
			}
			switch {
			case probe.RouteKey != nil:
				i := slices.IndexFunc(routes, func(rt samtemplate.Route) bool { return rt.Key() == *probe.RouteKey })
				if i < 0 {
					t.Fatalf("routeKey %q is no route of the template: API Gateway would never send this event", *probe.RouteKey)
				}
				var resp events.APIGatewayV2HTTPResponse
				if err := json.Unmarshal(fns[routes[i].Function].Invoke(t, ev), &resp); err != nil {
					t.Fatal(err)
				}
				want := map[string]string{"api-check-email.json": `"is_reachable":"safe"`, "api-check-email-v0.json": `"is_reachable":"safe"`,
					"api-bulk-create.json": `"job_id"`}[filepath.Base(f)]
				if resp.StatusCode >= 500 || !strings.Contains(strings.ReplaceAll(resp.Body, " ", ""), want) {
					t.Errorf("%d %s, want no server error and %s", resp.StatusCode, resp.Body, want)
				}
			case probe.Records != nil:
				out := fns[evs[0].Function].Invoke(t, ev)
				var resp events.SQSEventResponse
				if err := json.Unmarshal(out, &resp); err != nil || strings.Contains(string(out), "errorMessage") {
					t.Errorf("batch answer %s (%v), want a batch response", out, err)
				}
			default:
				t.Fatal("neither an HTTP API nor an SQS event")
			}
		})
	}
}

// readmeEnvVarsArgs returns the ARGS of the README's `make sam-env-vars`
// line, with the test's proxy URL in place of the example's.
func readmeEnvVarsArgs(t *testing.T, proxyURL string) string {
	t.Helper()
	line := regexp.MustCompile(`make sam-env-vars ARGS='([^']*)'`)
	for _, cmd := range readmeCommands(t, deployHeading) {
		if m := line.FindStringSubmatch(cmd); m != nil {
			return regexp.MustCompile(`ProxyUrls=[^ "]+`).ReplaceAllString(m[1], "ProxyUrls="+proxyURL)
		}
	}
	t.Fatal("the README's deploy section has no `make sam-env-vars ARGS='...'` line")
	return ""
}

// samLocalEnv is the environment `sam local invoke` gives a function
// (samcli/local/lambdafn/env_vars.py): its AWS_* variables, then each
// variable the template declares, valued by the env-vars file (the
// function's section, else its "Parameters" section). Variables of the
// file the template does not declare are dropped, as SAM drops them.
func samLocalEnv(t *testing.T, d *samtemplate.Deployment, r *samtemplate.Resolver, id string, file map[string]map[string]string) []string {
	t.Helper()
	f, _ := d.Function(id)
	s, err := f.Settings(r)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{
		"AWS_SAM_LOCAL=true", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(s.MemorySize),
		fmt.Sprintf("AWS_LAMBDA_FUNCTION_TIMEOUT=%d", int(s.Timeout.Seconds())), "AWS_LAMBDA_FUNCTION_HANDLER=" + s.Handler,
		"AWS_LAMBDA_FUNCTION_NAME=" + id, "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_LOG_GROUP_NAME=aws/lambda/" + id,
		"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_ACCESS_KEY_ID=defaultkey",
		"AWS_SECRET_ACCESS_KEY=defaultsecret", "AWS_ACCOUNT_ID=123456789012",
	}
	for _, name := range f.EnvNames() {
		v, ok := file[id][name]
		if !ok {
			v, ok = file["Parameters"][name]
		}
		if !ok {
			t.Errorf("%s: the env-vars file has no %s (SAM would use the template's own value)", id, name)
		}
		env = append(env, name+"="+v)
	}
	return env
}
