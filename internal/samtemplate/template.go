// Package samtemplate reads a SAM template and samconfig.toml the way SAM
// and CloudFormation read them, for the parts that run on one machine: the
// parameters with samconfig's overrides, the intrinsic functions that
// compute values (Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If, ...), each
// function's environment after Globals, its HttpApi and SQS events, and the
// queues and tables.
//
// The template is parsed with a YAML parser that keeps CloudFormation's
// short-form tags (!Ref, !GetAtt, ...), so every key is seen, including
// those typed CloudFormation libraries drop (FunctionResponseTypes,
// ScalingConfig). Nothing here talks to AWS: lambda-local and the
// `sam local invoke` environment file are built on it, so both follow the
// template as it changes instead of restating it.
package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is a parsed SAM (or plain CloudFormation) template.
type Template struct {
	root *yaml.Node // the top-level mapping
}

// Open reads and parses the template at path.
func Open(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse parses a template in YAML (JSON is YAML too).
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("samtemplate: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("samtemplate: the template is not a YAML mapping")
	}
	t := &Template{root: doc.Content[0]}
	if get(t.root, "Resources") == nil {
		return nil, errors.New("samtemplate: the template has no Resources")
	}
	return t, nil
}

// Resource is one entry of the template's Resources.
type Resource struct {
	ID        string // logical id
	Type      string // AWS::SQS::Queue, AWS::Serverless::Function, ...
	Condition string // the condition that decides whether it exists; "" always
	node      *yaml.Node
}

// Property returns the node of a property (following nested keys), or nil.
func (r Resource) Property(keys ...string) *yaml.Node {
	return get(r.node, append([]string{"Properties"}, keys...)...)
}

// PropertyNames lists the resource's top-level properties in template order.
func (r Resource) PropertyNames() []string {
	var names []string
	for _, p := range pairs(get(r.node, "Properties")) {
		names = append(names, p[0].Value)
	}
	return names
}

// Metadata returns the node of a Metadata key, or nil.
func (r Resource) Metadata(key string) *yaml.Node { return get(r.node, "Metadata", key) }

// Resources lists the template's resources in template order.
func (t *Template) Resources() []Resource {
	var out []Resource
	for _, p := range pairs(get(t.root, "Resources")) {
		r := Resource{ID: p[0].Value, node: p[1]}
		if n := get(p[1], "Type"); n != nil {
			r.Type = n.Value
		}
		if n := get(p[1], "Condition"); n != nil {
			r.Condition = n.Value
		}
		out = append(out, r)
	}
	return out
}

// Resource returns the resource with logical id id.
func (t *Template) Resource(id string) (Resource, bool) {
	for _, r := range t.Resources() {
		if r.ID == id {
			return r, true
		}
	}
	return Resource{}, false
}

// ResourcesOfType lists the resources of one type, in template order.
func (t *Template) ResourcesOfType(typ string) []Resource {
	var out []Resource
	for _, r := range t.Resources() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Output is one entry of the template's Outputs, unevaluated.
type Output struct {
	Name      string
	Condition string
	value     *yaml.Node
}

// Outputs lists the template's outputs in template order.
func (t *Template) Outputs() []Output {
	var out []Output
	for _, p := range pairs(get(t.root, "Outputs")) {
		o := Output{Name: p[0].Value, value: get(p[1], "Value")}
		if n := get(p[1], "Condition"); n != nil {
			o.Condition = n.Value
		}
		out = append(out, o)
	}
	return out
}

// get follows mapping keys from n; it returns nil when one is missing.
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

// where names a node's position for error messages.
func where(n *yaml.Node) string {
	if n == nil {
		return "template"
	}
	return "line " + strconv.Itoa(n.Line)
}

// cfnTag reports whether tag is a CloudFormation short form (!Ref), not a
// YAML core tag (!!str).
func cfnTag(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}
