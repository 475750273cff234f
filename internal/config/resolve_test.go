package config

import (
	"context"
	"errors"
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
