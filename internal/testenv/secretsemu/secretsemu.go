// Package secretsemu runs moto's server (the Python package moto, with
// moto_server, on this machine image) on loopback as the SSM Parameter Store
// and Secrets Manager the Lambda functions resolve secret references from.
//
// A test is skipped when moto_server is not installed, unless CI is set to a
// true value: in CI a missing emulator is a failure.
package secretsemu

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
)

// Region is the region of every client and of the ARNs moto returns.
const Region = "us-east-1"

// AccountID is moto's default account.
const AccountID = "123456789012"

// Server is a running moto_server.
type Server struct {
	URL string // http://127.0.0.1:PORT
}

// Start runs moto_server on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		prereq.Missing(t, "moto_server is not installed (the Python package moto): SSM and Secrets Manager are not emulated")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	stop := sync.OnceFunc(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	t.Cleanup(stop)
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port)}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return s
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("moto_server did not answer on %s: %v\n%s", s.URL, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Env returns the variables that point a process's AWS SDK at the server
// for SSM and Secrets Manager (the SDK's service-specific endpoint
// variables), with credentials moto accepts.
func (s *Server) Env() []string {
	return []string{"AWS_ENDPOINT_URL_SSM=" + s.URL, "AWS_ENDPOINT_URL_SECRETS_MANAGER=" + s.URL}
}

func (s *Server) creds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("test", "test", "")
}

// PutParameter stores a SecureString parameter.
func (s *Server) PutParameter(t testing.TB, name, value string) {
	t.Helper()
	c := ssm.New(ssm.Options{Region: Region, Credentials: s.creds(), BaseEndpoint: aws.String(s.URL)})
	if _, err := c.PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString,
	}); err != nil {
		t.Fatalf("put parameter %s: %v", name, err)
	}
}

// CreateSecret stores a secret and returns its ARN.
func (s *Server) CreateSecret(t testing.TB, name, value string) string {
	t.Helper()
	c := secretsmanager.New(secretsmanager.Options{Region: Region, Credentials: s.creds(), BaseEndpoint: aws.String(s.URL)})
	out, err := c.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{
		Name: aws.String(name), SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
	return aws.ToString(out.ARN)
}
