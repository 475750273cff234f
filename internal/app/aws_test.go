package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mailprobe/mailprobe/internal/api"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
)

// TestAPIFunctionEmitsEMF builds the API Lambda as in AWS (no emulator is
// called: the cache and throttle are off, and the address's domain does
// not exist) and checks that an inline check writes one EMF line to stdout
// and the guide's "Verification completed" line to stderr.
func TestAPIFunctionEmitsEMF(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dns := dnstest.Start(t, nil)
	environ := []string{
		"RCH__HEADER_SECRET=api-test-secret",
		"RCH__BACKEND_NAME=lambda-test",
		"RCH__DNS=" + dns.Addr,
		"RCH__CACHE_TTL=0",
		"RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE=0",
		"RCH__THROTTLE__MAX_REQUESTS_PER_DAY=0",
		"MAILPROBE_TABLE=mailprobe-test",
		"MAILPROBE_QUEUE_URL=http://127.0.0.1:9/000000000000/q",
	}
	var stdout, stderr bytes.Buffer
	h, err := apiFunction(context.Background(), environ, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RawPath: "/v0/check_email",
		Headers: map[string]string{"x-reacher-secret": "api-test-secret", "content-type": "application/json"},
		Body:    `{"to_email":"someone@no-such-domain.test"}`,
	}
	ev.RequestContext.HTTP.Method = http.MethodPost
	ev.RequestContext.HTTP.Path = ev.RawPath
	resp, err := h(context.Background(), ev)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"is_reachable":"invalid"`) {
		t.Fatalf("check = %d %s, %v; want 200 invalid", resp.StatusCode, resp.Body, err)
	}
	type emfLine struct {
		Backend string `json:"backend"`
		Result  string `json:"result"`
		Total   int    `json:"reacher_verifications_total"`
	}
	var got emfLine
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &got) != nil || got != (emfLine{"lambda-test", "invalid", 1}) {
		t.Errorf("stdout %q, want one EMF line for backend lambda-test, result invalid", stdout.String())
	}
	found := false
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		var l map[string]any
		if json.Unmarshal(sc.Bytes(), &l) == nil && l["message"] == "Verification completed" {
			found = l["result"] == "invalid" && l["backend"] == "lambda-test" && l["email_hash"] != nil && l["email"] == nil
		}
	}
	if !found {
		t.Errorf("no hashed \"Verification completed\" line in stderr:\n%s", stderr.String())
	}
}

// TestAPIFunctionRefusesToRunOpen: without a secret the API function does
// not start, unless MAILPROBE_ALLOW_OPEN=true says to run open.
func TestAPIFunctionRefusesToRunOpen(t *testing.T) {
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	environ := []string{"MAILPROBE_TABLE=mailprobe-test", "MAILPROBE_QUEUE_URL=http://127.0.0.1:9/000000000000/q"}
	var stdout, stderr bytes.Buffer
	if _, err := apiFunction(context.Background(), environ, &stdout, &stderr); !errors.Is(err, api.ErrNoSecret) {
		t.Fatalf("without a secret: %v, want api.ErrNoSecret", err)
	}
	open := append(environ, EnvAllowOpen+"=true")
	if _, err := apiFunction(context.Background(), open, &stdout, &stderr); err != nil {
		t.Fatalf("with %s=true: %v", EnvAllowOpen, err)
	}
	if !strings.Contains(stderr.String(), "NO SECRET CONFIGURED") {
		t.Errorf("an open API started without a warning: %s", stderr.String())
	}
}
