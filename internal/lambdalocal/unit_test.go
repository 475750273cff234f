package lambdalocal

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

func TestRouter(t *testing.T) {
	r := newRouter([]samtemplate.Route{
		{Function: "greedy", Method: "ANY", Path: "/v1/{proxy+}"},
		{Function: "var", Method: "GET", Path: "/v1/bulk/{job_id}"},
		{Function: "literal", Method: "GET", Path: "/v1/bulk/latest"},
		{Function: "any", Method: "ANY", Path: "/v1/bulk/{job_id}/results"},
		{Function: "get", Method: "GET", Path: "/v1/bulk/{job_id}/results"},
		{Function: "root", Method: "GET", Path: "/"},
	})
	tests := []struct {
		method, path, fn string
		params           map[string]string
	}{
		{"GET", "/v1/bulk/latest", "literal", map[string]string{}},
		{"GET", "/v1/bulk/7", "var", map[string]string{"job_id": "7"}},
		{"GET", "/v1/bulk/7/results", "get", map[string]string{"job_id": "7"}},
		{"POST", "/v1/bulk/7/results", "any", map[string]string{"job_id": "7"}},
		{"POST", "/v1/bulk/7", "greedy", map[string]string{"proxy": "bulk/7"}},
		{"GET", "/v1/a/b/c", "greedy", map[string]string{"proxy": "a/b/c"}},
		{"GET", "/", "root", map[string]string{}},
		{"GET", "/v1", "", nil},
		{"GET", "/v1/", "", nil},
		{"GET", "/v2/bulk/7", "", nil},
		{"GET", "/v1/bulk//results", "greedy", map[string]string{"proxy": "bulk//results"}},
	}
	for _, tt := range tests {
		rt, params, ok := r.match(tt.method, tt.path)
		if ok != (tt.fn != "") || rt.Function != tt.fn || ok && !reflect.DeepEqual(params, tt.params) {
			t.Errorf("%s %s → %q %v %v, want %q %v", tt.method, tt.path, rt.Function, params, ok, tt.fn, tt.params)
		}
	}
	def := newRouter([]samtemplate.Route{{Function: "d", Method: "ANY"}, {Function: "h", Method: "GET", Path: "/healthz"}})
	if rt, _, _ := def.match("PUT", "/healthz"); rt.Function != "d" {
		t.Errorf("$default route not used: %q", rt.Function)
	}
}

func TestFunctionEnv(t *testing.T) {
	tmpl := map[string]string{
		"RCH__HEADER_SECRET": "", "MAILPROBE_PROXIES": "", "RCH__SMTP_TIMEOUT": "45", "MAILPROBE_TABLE": "t1",
	}
	s := settings{
		flags: []config.Flag{
			{Name: "proxy", Key: "proxy_urls", Value: "socks5://u:p@127.0.0.1:1080"},
			{Name: "smtp-timeout", Key: "smtp_timeout", Value: "5s"},
			{Name: "dns", Key: "dns", Value: "127.0.0.1:53"},
			{Name: "allow-private-mx", Key: "allow_private_mx", Value: "true"},
		},
		configFile: "/abs/backend.toml", secret: "s3cret-value", sqsURL: "http://sqs", dynamoURL: "http://ddb",
	}
	env := map[string]string{}
	for _, kv := range functionEnv(tmpl, s, runtime{name: "fn-1", memory: 256, timeout: 2500 * time.Millisecond, taskDir: "/task"}) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[string]string{
		"RCH__HEADER_SECRET": "s3cret-value", "MAILPROBE_PROXIES": "socks5://u:p@127.0.0.1:1080",
		"RCH__SMTP_TIMEOUT": "5s", "RCH__DNS": "127.0.0.1:53", "RCH__ALLOW_PRIVATE_MX": "true", "MAILPROBE_TABLE": "t1",
		"MAILPROBE_CONFIG": "/abs/backend.toml", "MAILPROBE_SQS_ENDPOINT": "http://sqs", "MAILPROBE_DYNAMODB_ENDPOINT": "http://ddb",
		"AWS_LAMBDA_FUNCTION_NAME": "fn-1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_FUNCTION_TIMEOUT": "3",
		"LAMBDA_TASK_ROOT": "/task", "AWS_REGION": "us-east-1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["RCH__PROXY_URLS"]; ok {
		t.Error("--proxy added RCH__PROXY_URLS although the template sets MAILPROBE_PROXIES")
	}
	// A function the template keeps from the secret does not get it.
	for _, kv := range functionEnv(map[string]string{"MAILPROBE_TABLE": "t1"}, s, runtime{}) {
		if strings.HasPrefix(kv, "RCH__HEADER_SECRET=") {
			t.Errorf("secret given to a function without it in the template: %s", kv)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var out syncBuffer
	s := &sink{w: &out}
	w := s.prefixed("Fn#1")
	_, _ = io.WriteString(w, "one\ntw")
	_, _ = io.WriteString(w, "o\nthree")
	w.Flush()
	if got, want := out.String(), "[Fn#1] one\n[Fn#1] two\n[Fn#1] three\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestGenerateSecret(t *testing.T) {
	tests := []struct {
		opts  map[string]any
		len   int
		check func(string) bool
	}{
		{map[string]any{}, 32, func(s string) bool { return !strings.Contains(s, " ") }},
		{map[string]any{"PasswordLength": "48", "ExcludePunctuation": "true"}, 48,
			func(s string) bool { return !strings.ContainsAny(s, punctuation+" ") }},
		{map[string]any{"PasswordLength": "20", "ExcludeUppercase": "true", "ExcludeLowercase": "true", "ExcludePunctuation": "true", "ExcludeCharacters": "01"}, 20,
			func(s string) bool { return strings.Trim(s, "23456789") == "" }},
	}
	for _, tt := range tests {
		s, err := generateSecret(tt.opts)
		if err != nil || len(s) != tt.len || !tt.check(s) {
			t.Errorf("generateSecret(%v) = %q, %v", tt.opts, s, err)
		}
	}
	s, err := generateSecret(map[string]any{"SecretStringTemplate": `{"user":"u"}`, "GenerateStringKey": "password", "PasswordLength": "8"})
	if err != nil || !strings.HasPrefix(s, `{"password":"`) || !strings.Contains(s, `"user":"u"`) {
		t.Errorf("template: %q, %v", s, err)
	}
	if _, err := generateSecret(map[string]any{"ExcludeUppercase": "true", "ExcludeLowercase": "true", "ExcludeNumbers": "true", "ExcludePunctuation": "true"}); err == nil {
		t.Error("a secret without characters was generated")
	}
}

func TestResolveDynamic(t *testing.T) {
	arn := "arn:aws:secretsmanager:us-east-1:000000000000:secret:st-Probe-ABC-x1y2z3"
	secrets := map[string]string{arn: "s3cr3t", "st-Probe-ABC": "s3cr3t", "json": `{"k":"v"}`}
	tests := []struct{ in, want string }{
		{"{{resolve:secretsmanager:" + arn + ":SecretString}}", "s3cr3t"},
		{"x-{{resolve:secretsmanager:st-Probe-ABC}}-y", "x-s3cr3t-y"},
		{"{{resolve:secretsmanager:json:SecretString:k}}", "v"},
		{"no reference", "no reference"},
	}
	for _, tt := range tests {
		if got, err := resolveDynamic(tt.in, secrets); err != nil || got != tt.want {
			t.Errorf("resolveDynamic(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := resolveDynamic("{{resolve:secretsmanager:other:SecretString}}", secrets); err == nil {
		t.Error("a secret of no stack was resolved")
	}
}
