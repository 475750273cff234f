package config

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Prefixes of secret references. A header_secret written as a reference is
// fetched at start-up instead of living in the template, an environment
// variable or samconfig.toml in clear.
const (
	SSMPrefix            = "ssm:"            // ssm:/mailprobe/header-secret (SecureString)
	SecretsManagerPrefix = "secretsmanager:" // secretsmanager:<name or ARN>
)

// ErrNoSecretClient is returned when a reference names a store for which no
// client was supplied.
var ErrNoSecretClient = errors.New("no client for secret store")

// ErrEmptySecret is returned when the store holds no string value.
var ErrEmptySecret = errors.New("secret store returned no value")

// SSMGetter is the part of *ssm.Client that ResolveSecret uses.
type SSMGetter interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SecretsGetter is the part of *secretsmanager.Client that ResolveSecret uses.
type SecretsGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput,
		opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretFetcher turns a secret setting, literal or reference, into its value.
type SecretFetcher interface {
	FetchSecret(ctx context.Context, s string) (Secret, error)
}

// AWSSecrets is a SecretFetcher over SSM Parameter Store and Secrets
// Manager. A nil client makes references to its store fail with
// ErrNoSecretClient.
type AWSSecrets struct {
	SSM            SSMGetter
	SecretsManager SecretsGetter
}

// FetchSecret implements SecretFetcher with ResolveSecret.
func (a AWSSecrets) FetchSecret(ctx context.Context, s string) (Secret, error) {
	return ResolveSecret(ctx, s, a.SSM, a.SecretsManager)
}

// IsSecretRef reports whether s is an "ssm:" or "secretsmanager:" reference.
func IsSecretRef(s string) bool {
	return strings.HasPrefix(s, SSMPrefix) || strings.HasPrefix(s, SecretsManagerPrefix)
}

// ResolveSecret returns s itself when it is not a reference; otherwise it
// reads the SSM parameter (decrypting a SecureString) or the Secrets Manager
// secret's string value.
func ResolveSecret(ctx context.Context, s string, ssmc SSMGetter, sm SecretsGetter) (Secret, error) {
	switch {
	case strings.HasPrefix(s, SSMPrefix):
		name := strings.TrimPrefix(s, SSMPrefix)
		if ssmc == nil {
			return Secret{}, fmt.Errorf("resolve %s%s: %w", SSMPrefix, name, ErrNoSecretClient)
		}
		out, err := ssmc.GetParameter(ctx, &ssm.GetParameterInput{
			Name:           aws.String(name),
			WithDecryption: aws.Bool(true),
		})
		if err != nil {
			return Secret{}, fmt.Errorf("resolve %s%s: %w", SSMPrefix, name, err)
		}
		if out == nil || out.Parameter == nil || aws.ToString(out.Parameter.Value) == "" {
			return Secret{}, fmt.Errorf("resolve %s%s: %w", SSMPrefix, name, ErrEmptySecret)
		}
		return NewSecret(*out.Parameter.Value), nil
	case strings.HasPrefix(s, SecretsManagerPrefix):
		id := strings.TrimPrefix(s, SecretsManagerPrefix)
		if sm == nil {
			return Secret{}, fmt.Errorf("resolve %s%s: %w", SecretsManagerPrefix, id, ErrNoSecretClient)
		}
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
		if err != nil {
			return Secret{}, fmt.Errorf("resolve %s%s: %w", SecretsManagerPrefix, id, err)
		}
		if out == nil || aws.ToString(out.SecretString) == "" {
			return Secret{}, fmt.Errorf("resolve %s%s: %w", SecretsManagerPrefix, id, ErrEmptySecret)
		}
		return NewSecret(*out.SecretString), nil
	}
	return NewSecret(s), nil
}

// SecretRefs lists the settings that still hold an ssm: or secretsmanager:
// reference ("header_secret", "proxy_urls[0]"), in that order.
func (c Config) SecretRefs() []string {
	var keys []string
	if IsSecretRef(c.HeaderSecret.Reveal()) {
		keys = append(keys, "header_secret")
	}
	for i, p := range c.ProxyPool {
		if p.ref != "" {
			keys = append(keys, fmt.Sprintf("proxy_urls[%d]", i))
		}
	}
	return keys
}

// ResolveSecrets replaces the references SecretRefs lists by their values:
// the header secret, and each proxy_urls reference by the comma-separated
// proxy URLs its parameter or secret holds. Load does no I/O, so the AWS
// entry points call this once after Load. Errors name the reference, never
// the value.
func (c *Config) ResolveSecrets(ctx context.Context, f SecretFetcher) error {
	if IsSecretRef(c.HeaderSecret.Reveal()) {
		s, err := f.FetchSecret(ctx, c.HeaderSecret.Reveal())
		if err != nil {
			return fmt.Errorf("header_secret: %w", err)
		}
		c.HeaderSecret = s
	}
	var pool ProxyList
	for i, p := range c.ProxyPool {
		if p.ref == "" {
			pool = append(pool, p)
			continue
		}
		key := fmt.Sprintf("proxy_urls[%d]", i)
		s, err := f.FetchSecret(ctx, p.ref)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		urls, err := ParseProxyURLs(s.Reveal())
		if err == nil && len(urls) == 0 {
			err = ErrEmptySecret
		}
		for j := 0; err == nil && j < len(urls); j++ {
			err = errors.Join(checkProxy(fmt.Sprintf("entry %d", j+1), urls[j])...)
		}
		if err != nil {
			return fmt.Errorf("%s: the value of %s: %w", key, p.ref, err)
		}
		pool = append(pool, urls...)
	}
	c.ProxyPool = pool
	return nil
}

// checkSecretRef refuses a reference without a name.
func checkSecretRef(key, s string) error {
	for _, p := range []string{SSMPrefix, SecretsManagerPrefix} {
		if strings.HasPrefix(s, p) && strings.TrimSpace(strings.TrimPrefix(s, p)) == "" {
			return invalid(key, "%s reference names no parameter or secret", strings.TrimSuffix(p, ":"))
		}
	}
	return nil
}
