package config

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// fakeSSM answers GetParameter from a map and records the last input.
type fakeSSM struct {
	params map[string]string
	last   *ssm.GetParameterInput
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput,
	_ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.last = in
	v, ok := f.params[aws.ToString(in.Name)]
	if !ok {
		return nil, &ssmtypes.ParameterNotFound{Message: aws.String("not found")}
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String(v)}}, nil
}

// fakeSM answers GetSecretValue from a map.
type fakeSM struct{ secrets map[string]string }

var errNoSecret = errors.New("ResourceNotFoundException")

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput,
	_ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := f.secrets[aws.ToString(in.SecretId)]
	if !ok {
		return nil, errNoSecret
	}
	out := &secretsmanager.GetSecretValueOutput{}
	if v != "" {
		out.SecretString = aws.String(v)
	}
	return out, nil
}

func TestResolveSecret(t *testing.T) {
	ssmc := &fakeSSM{params: map[string]string{"/mailprobe/secret": "from-ssm", "/empty": ""}}
	sm := &fakeSM{secrets: map[string]string{"mailprobe": "from-sm", "arn:aws:secretsmanager:r:1:secret:x": "by-arn",
		"binary": ""}}
	tests := []struct {
		name    string
		in      string
		ssm     SSMGetter
		sm      SecretsGetter
		want    string
		wantErr error
	}{
		{"literal", "plain", nil, nil, "plain", nil},
		{"empty", "", nil, nil, "", nil},
		{"ssm", "ssm:/mailprobe/secret", ssmc, sm, "from-ssm", nil},
		{"secretsmanager name", "secretsmanager:mailprobe", ssmc, sm, "from-sm", nil},
		{"secretsmanager arn", "secretsmanager:arn:aws:secretsmanager:r:1:secret:x", ssmc, sm, "by-arn", nil},
		{"ssm missing", "ssm:/nope", ssmc, sm, "", &ssmtypes.ParameterNotFound{}},
		{"ssm empty", "ssm:/empty", ssmc, sm, "", ErrEmptySecret},
		{"sm missing", "secretsmanager:nope", ssmc, sm, "", errNoSecret},
		{"sm binary only", "secretsmanager:binary", ssmc, sm, "", ErrEmptySecret},
		{"no ssm client", "ssm:/mailprobe/secret", nil, sm, "", ErrNoSecretClient},
		{"no sm client", "secretsmanager:mailprobe", ssmc, nil, "", ErrNoSecretClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveSecret(context.Background(), tt.in, tt.ssm, tt.sm)
			if tt.wantErr != nil {
				var pnf *ssmtypes.ParameterNotFound
				if errors.As(tt.wantErr, &pnf) {
					if !errors.As(err, &pnf) {
						t.Fatalf("err = %v, want ParameterNotFound", err)
					}
					return
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Reveal() != tt.want {
				t.Errorf("got %q, want %q", got.Reveal(), tt.want)
			}
		})
	}
	t.Run("ssm decrypts", func(t *testing.T) {
		if _, err := ResolveSecret(context.Background(), "ssm:/mailprobe/secret", ssmc, nil); err != nil {
			t.Fatal(err)
		}
		if !aws.ToBool(ssmc.last.WithDecryption) {
			t.Error("GetParameter called without WithDecryption")
		}
	})
}

func TestResolveSecrets(t *testing.T) {
	f := AWSSecrets{SSM: &fakeSSM{params: map[string]string{"/s": "resolved"}}}
	tests := []struct {
		name, secret, want string
		wantErr            bool
	}{
		{"reference", "ssm:/s", "resolved", false},
		{"literal untouched", "literal", "literal", false},
		{"unset", "", "", false},
		{"failure", "ssm:/missing", "ssm:/missing", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(Options{Environ: []string{"RCH__HEADER_SECRET=" + tt.secret}})
			if err != nil {
				t.Fatal(err)
			}
			err = c.ResolveSecrets(context.Background(), f)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if c.HeaderSecret.Reveal() != tt.want {
				t.Errorf("HeaderSecret = %q, want %q", c.HeaderSecret.Reveal(), tt.want)
			}
		})
	}
}

// TestResolveProxyReferences: MAILPROBE_PROXIES may name a parameter or
// secret holding the proxy URLs, so that their passwords never sit in a
// function's environment; ResolveSecrets splices the URLs in, in place.
func TestResolveProxyReferences(t *testing.T) {
	f := AWSSecrets{
		SSM: &fakeSSM{params: map[string]string{
			"/proxies": "socks5://u:pw1@198.51.100.1:1080,socks5://u:pw2@198.51.100.2",
			"/bad":     "socks5://u:pw@:1080", "/notaurl": "http://u:pw@h:1",
		}},
		SecretsManager: &fakeSM{secrets: map[string]string{"px": "socks5h://v:pw3@198.51.100.3:9050"}},
	}
	tests := []struct {
		name, env string
		hosts     []string
		wantErr   string
	}{
		{"ssm list", "ssm:/proxies", []string{"198.51.100.1", "198.51.100.2"}, ""},
		{"literal then secret", "socks5://a@192.0.2.1:1080,secretsmanager:px", []string{"192.0.2.1", "198.51.100.3"}, ""},
		{"missing parameter", "ssm:/missing", nil, "proxy_urls[0]"},
		{"empty host", "ssm:/bad", nil, "entry 1"},
		{"not socks5", "ssm:/notaurl", nil, "ssm:/notaurl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(Options{Environ: []string{"MAILPROBE_PROXIES=" + tt.env}})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.SecretRefs()) == 0 {
				t.Fatalf("SecretRefs() empty for %q", tt.env)
			}
			err = c.ResolveSecrets(context.Background(), f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("error %q shows a password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var hosts []string
			for _, p := range c.ProxyPool {
				hosts = append(hosts, p.Host)
			}
			if strings.Join(hosts, ",") != strings.Join(tt.hosts, ",") || len(c.SecretRefs()) != 0 {
				t.Errorf("hosts %v (refs left %v), want %v", hosts, c.SecretRefs(), tt.hosts)
			}
		})
	}
	if _, err := Load(Options{Environ: []string{"MAILPROBE_PROXIES=ssm:"}}); err == nil {
		t.Error("an ssm: reference naming nothing loaded")
	}
}
