package infra

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const samconfigPath = "../samconfig.toml"

// secretLooking matches parameter and key names that suggest a credential.
var secretLooking = regexp.MustCompile(`(?i)secret|password|passwd|token|proxyurls|credential|api_?key`)

func loadSamconfig(t *testing.T) map[string]any {
	t.Helper()
	var cfg map[string]any
	if _, err := toml.DecodeFile(samconfigPath, &cfg); err != nil {
		t.Fatalf("samconfig.toml: %v", err)
	}
	return cfg
}

// lookup follows table keys; it returns nil when one is missing.
func lookup(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		tbl, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = tbl[k]
	}
	return v
}

func TestSamconfig(t *testing.T) {
	cfg := loadSamconfig(t)
	if v := cfg["version"]; v != 0.1 {
		t.Errorf("version = %v, want 0.1", v)
	}
	for _, env := range []string{"default", "dev"} {
		t.Run(env, func(t *testing.T) {
			checks := []struct {
				keys []string
				want any
			}{
				{[]string{"global", "parameters", "template_file"}, "infra/template.yaml"},
				{[]string{"build", "parameters", "cached"}, true},
				{[]string{"build", "parameters", "parallel"}, true},
				{[]string{"deploy", "parameters", "capabilities"}, "CAPABILITY_IAM"},
				{[]string{"deploy", "parameters", "resolve_s3"}, true},
			}
			for _, c := range checks {
				if got := lookup(cfg, append([]string{env}, c.keys...)...); got != c.want {
					t.Errorf("%s.%s = %v, want %v", env, strings.Join(c.keys, "."), got, c.want)
				}
			}
			if _, ok := lookup(cfg, env, "deploy", "parameters", "confirm_changeset").(bool); !ok {
				t.Errorf("%s.deploy.parameters.confirm_changeset is not set", env)
			}
			if lookup(cfg, env, "local_invoke", "parameters") == nil {
				t.Errorf("%s has no local_invoke parameters", env)
			}
			tf, _ := lookup(cfg, env, "global", "parameters", "template_file").(string)
			if _, err := os.Stat(filepath.Join("..", tf)); err != nil {
				t.Errorf("template_file: %v", err)
			}
		})
	}
	if got := lookup(cfg, "default", "global", "parameters", "stack_name"); got != "mailprobe" {
		t.Errorf("default stack_name = %v, want mailprobe", got)
	}
}

func TestSamconfigHasNoSecrets(t *testing.T) {
	cfg := loadSamconfig(t)
	params := map[string]bool{}
	for _, p := range pairs(get(openNode(t), "Parameters")) {
		params[p[0].Value] = true
	}
	var visit func(path string, v any)
	visit = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if secretLooking.MatchString(k) {
					t.Errorf("%s.%s: secret-looking key", path, k)
				}
				visit(path+"."+k, c)
			}
		case []any:
			for _, c := range v {
				visit(path, c)
			}
		case string:
			if strings.HasSuffix(path, ".parameter_overrides") {
				checkOverrides(t, path, v, params)
			}
		}
	}
	visit("samconfig", cfg)
}

// checkOverrides checks "Name=value" overrides (a list item, or a
// space-separated string): each names a template parameter, and none is a
// secret.
func checkOverrides(t *testing.T, path, v string, params map[string]bool) {
	t.Helper()
	for _, kv := range strings.Fields(v) {
		name, _, ok := strings.Cut(kv, "=")
		if !ok {
			t.Errorf("%s: %q is not Name=value", path, kv)
			continue
		}
		if secretLooking.MatchString(name) || name == "HeaderSecret" || name == "ProxyUrls" {
			t.Errorf("%s: %s must not be stored in samconfig.toml", path, name)
		}
		if !params[name] {
			t.Errorf("%s: %s is not a template parameter", path, name)
		}
	}
}
