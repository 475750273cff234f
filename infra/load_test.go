package infra

import (
	"maps"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

const templatePath = "template.yaml"

// sampleSecrets are parameter values for the NoEcho parameters, which
// samconfig.toml never holds: references, as the README recommends.
var sampleSecrets = map[string]string{
	"HeaderSecret": "ssm:/mailprobe/header-secret",
	"ProxyUrls":    "ssm:/mailprobe/proxies",
}

// deployment loads the template as `sam deploy` gets it: samconfig.toml's
// deploy parameters, then sampleSecrets, then overrides. Its resolver gives
// !Ref of a resource "ref-<Id>" and !GetAtt "attr-<Id>.<Attribute>", in
// account 000000000000 and us-east-1.
func deployment(t *testing.T, overrides map[string]string) (*samtemplate.Deployment, *samtemplate.Resolver) {
	t.Helper()
	ov := maps.Clone(sampleSecrets)
	maps.Copy(ov, overrides)
	d, err := samtemplate.Load(samtemplate.Source{Template: templatePath, Samconfig: samconfigPath, Command: "deploy", Overrides: ov})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Missing) > 0 {
		t.Fatalf("parameters without a value: %v", d.Missing)
	}
	return d, d.Resolver(placeholderStack(d.Template, d.Params))
}

// placeholderStack is the stack the tests evaluate templates against:
// params, and resources as "ref-<Id>" and "attr-<Id>.<Attribute>".
func placeholderStack(tp *samtemplate.Template, params map[string]string) samtemplate.Stack {
	st := samtemplate.Stack{Params: params, Refs: map[string]string{}, Attrs: map[string]string{}}
	for _, r := range tp.Resources() {
		st.Refs[r.ID] = "ref-" + r.ID
	}
	for _, a := range tp.AttributesUsed() {
		st.Attrs[a] = "attr-" + a
	}
	return st
}

// openNode parses the template into a yaml.Node tree, which keeps the
// CloudFormation short-form tags (!Ref, !GetAtt, !If, ...) and every key,
// for checks of how the template is written rather than what it evaluates
// to (deployment).
func openNode(t *testing.T) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatal("template is not a YAML mapping")
	}
	return doc.Content[0]
}

// get follows mapping keys from n; it returns nil when a key is missing.
func get(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

// must is get that fails the test when the path is missing.
func must(t *testing.T, n *yaml.Node, keys ...string) *yaml.Node {
	t.Helper()
	v := get(n, keys...)
	if v == nil {
		t.Fatalf("template has no %s", strings.Join(keys, "."))
	}
	return v
}

// pairs returns the key/value pairs of a mapping node in order.
func pairs(n *yaml.Node) [][2]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([][2]*yaml.Node, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
	}
	return out
}

// walk calls fn for n and every node below it.
func walk(n *yaml.Node, fn func(*yaml.Node)) {
	if n == nil {
		return
	}
	fn(n)
	for _, c := range n.Content {
		walk(c, fn)
	}
}

// isRef reports whether n is `!Ref name` or `{Ref: name}`.
func isRef(n *yaml.Node, name string) bool {
	if n == nil {
		return false
	}
	if n.Tag == "!Ref" {
		return n.Value == name
	}
	r := get(n, "Ref")
	return r != nil && r.Value == name
}

func equal(a, b any) bool { return reflect.DeepEqual(a, b) }

// seqValues joins the scalar values of a sequence node with ",".
func seqValues(n *yaml.Node) string {
	var vs []string
	for _, c := range n.Content {
		vs = append(vs, c.Value)
	}
	return strings.Join(vs, ",")
}
