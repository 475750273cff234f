package infra

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
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
				{[]string{"build", "parameters", "template_file"}, "infra/template.yaml"},
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
			tf, _ := lookup(cfg, env, "build", "parameters", "template_file").(string)
			if _, err := os.Stat(filepath.Join("..", tf)); err != nil {
				t.Errorf("template_file: %v", err)
			}
		})
	}
	if got := lookup(cfg, "default", "global", "parameters", "stack_name"); got != "mailprobe" {
		t.Errorf("default stack_name = %v, want mailprobe", got)
	}
}

// TestSamCommands resolves every sam command of the Makefile's deploy
// target and of the README's "Deploying with SAM" section the way the SAM
// CLI does in the repository root, after a build: `sam build` builds
// infra/template.yaml; `sam deploy`, `sam package` and `sam local invoke`
// use the build's template (whose CodeUri is the built bootstrap, not the
// source folder); every command reads the root's samconfig.toml, and
// `sam deploy --guided` saves its answers there, where later runs read
// them.
func TestSamCommands(t *testing.T) {
	root := t.TempDir()
	for src, dst := range map[string]string{samconfigPath: "samconfig.toml", templatePath: "infra/template.yaml"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(root, dst), b)
	}
	writeFile(t, filepath.Join(root, samtemplate.BuiltTemplate), []byte("Resources: {}\n"))
	commands := makeRecipeCommands(t, "deploy")
	commands = append(commands, readmeCommands(t, "## Deploying with SAM")...)
	var sawBuild, sawGuided bool
	for _, line := range commands {
		inv, guided, ok := samInvocation(line)
		if !ok {
			continue
		}
		inv.Dir = root
		f, err := inv.Resolve()
		if err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		rel, _ := filepath.Rel(root, f.Template)
		switch inv.Command {
		case "build":
			sawBuild = true
			if rel != "infra/template.yaml" {
				t.Errorf("%q builds %s, want infra/template.yaml", line, rel)
			}
		case "deploy", "package", "local_invoke", "local_start_api":
			if !f.Built {
				t.Errorf("%q uses %s, not sam build's output: it would package the source folder (no bootstrap at the zip root)", line, rel)
			}
		}
		if f.Samconfig != filepath.Join(root, "samconfig.toml") || f.Config == nil {
			t.Errorf("%q reads %s, not the repository's samconfig.toml", line, f.Samconfig)
		}
		if guided {
			sawGuided = true
			if f.SaveDir != filepath.Dir(f.Samconfig) {
				t.Errorf("%q saves its answers in %s, where later runs (reading %s) never look", line, f.SaveDir, f.Samconfig)
			}
		}
	}
	if !sawBuild || !sawGuided {
		t.Errorf("make deploy and the README must run sam build and sam deploy --guided (build %v, guided %v)", sawBuild, sawGuided)
	}
}

// samInvocation parses a sam command line.
func samInvocation(line string) (inv samtemplate.Invocation, guided, ok bool) {
	words := strings.Fields(line)
	if len(words) < 2 || words[0] != "sam" {
		return inv, false, false
	}
	rest := words[1:]
	switch rest[0] {
	case "local":
		if len(rest) < 2 {
			return inv, false, false
		}
		inv.Command, rest = "local_"+strings.ReplaceAll(rest[1], "-", "_"), rest[2:]
	default:
		inv.Command, rest = rest[0], rest[1:]
	}
	for i := 0; i < len(rest); i++ {
		value := func() string {
			if i+1 < len(rest) {
				i++
				return rest[i]
			}
			return ""
		}
		switch rest[i] {
		case "--template-file", "--template", "-t":
			inv.Template = value()
		case "--config-file":
			inv.ConfigFile = value()
		case "--config-env":
			inv.ConfigEnv = value()
		case "--guided", "-g":
			guided = true
		}
	}
	return inv, guided, true
}

// makeRecipeCommands returns the shell commands of a Makefile target's
// recipe, split at && and ;.
func makeRecipeCommands(t *testing.T, target string) []string {
	t.Helper()
	b, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, target+":"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			for _, part := range regexp.MustCompile(`&&|;`).Split(line, -1) {
				out = append(out, strings.TrimSpace(strings.TrimPrefix(part, "@")))
			}
		default:
			in = false
		}
	}
	if len(out) == 0 {
		t.Fatalf("Makefile has no recipe for %s", target)
	}
	return out
}

// readmeCommands returns the command lines of the code blocks in a README
// section (up to the next "## " heading), without comments.
func readmeCommands(t *testing.T, heading string) []string {
	t.Helper()
	var out []string
	for _, block := range readmeBlocks(t, heading) {
		for _, line := range strings.Split(block, "\n") {
			if cmd, _, _ := strings.Cut(line, " #"); strings.TrimSpace(cmd) != "" {
				out = append(out, regexp.MustCompile(`&&|;`).Split(strings.TrimSpace(cmd), -1)...)
			}
		}
	}
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// readmeBlocks returns the fenced code blocks of a README section.
func readmeBlocks(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	text = text[i+1+len(heading):]
	if j := strings.Index(text, "\n## "); j >= 0 {
		text = text[:j]
	}
	var blocks []string
	for {
		a := strings.Index(text, "```")
		if a < 0 {
			return blocks
		}
		text = text[a+3:]
		nl := strings.IndexByte(text, '\n')
		end := strings.Index(text, "\n```")
		if nl < 0 || end < 0 {
			return blocks
		}
		blocks = append(blocks, text[nl+1:end])
		text = text[end+4:]
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
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
