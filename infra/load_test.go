package infra

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/intrinsics"
	"go.yaml.in/yaml/v3"
)

const templatePath = "template.yaml"

// openTyped parses the template with goformation. NoProcess cannot be used
// here: it leaves {"Ref": ...} objects in place and goformation then fails
// to decode them into typed string fields ("cannot unmarshal object into Go
// struct field ... Environment.Variables of type string"). The default
// processing resolves Ref and Fn::GetAtt to ""/nil instead, so those two are
// overridden to leave a readable placeholder: "Ref:Name", "GetAtt:Res.Attr".
func openTyped(t *testing.T) *cloudformation.Template {
	t.Helper()
	tpl, err := goformation.OpenWithOptions(templatePath, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref":        refPlaceholder,
			"Fn::GetAtt": getAttPlaceholder,
		},
	})
	if err != nil {
		t.Fatalf("goformation: %v", err)
	}
	return tpl
}

// refPlaceholder returns "Ref:Name". CloudFormation turns every parameter
// into a string when referenced, so a string is right even for Number
// parameters; the template therefore keeps Refs out of goformation's
// integer fields (RetentionInDays is a literal).
func refPlaceholder(_ string, input any, _ any) any {
	if input == "AWS::NoValue" {
		return nil
	}
	return fmt.Sprintf("Ref:%v", input)
}

func getAttPlaceholder(_ string, input any, _ any) any {
	switch v := input.(type) {
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		return "GetAtt:" + strings.Join(parts, ".")
	default:
		return fmt.Sprintf("GetAtt:%v", v)
	}
}

// openNode parses the template into a yaml.Node tree, which keeps the
// CloudFormation short-form tags (!Ref, !GetAtt, !If, ...) and every key,
// including those goformation's structs lack (FunctionResponseTypes,
// ScalingConfig, Metadata).
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

// resourcesOfType returns the logical ids of resources of type typ.
func resourcesOfType(root *yaml.Node, typ string) []string {
	var ids []string
	for _, p := range pairs(get(root, "Resources")) {
		if v := get(p[1], "Type"); v != nil && v.Value == typ {
			ids = append(ids, p[0].Value)
		}
	}
	return ids
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

// isGetAtt reports whether n is `!GetAtt res.attr` (or its long forms).
func isGetAtt(n *yaml.Node, target string) bool {
	if n == nil {
		return false
	}
	if n.Tag == "!GetAtt" {
		if n.Kind == yaml.SequenceNode && len(n.Content) == 2 {
			return n.Content[0].Value+"."+n.Content[1].Value == target
		}
		return n.Value == target
	}
	g := get(n, "Fn::GetAtt")
	return g != nil && g.Kind == yaml.SequenceNode && len(g.Content) == 2 &&
		g.Content[0].Value+"."+g.Content[1].Value == target
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
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

func keySchema(ks []dynamodb.Table_KeySchema) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k.AttributeName + " " + k.KeyType
	}
	return strings.Join(parts, ", ")
}
