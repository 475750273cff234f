package samtemplate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FunctionType is the resource type of a SAM function.
const FunctionType = "AWS::Serverless::Function"

// SAM's defaults for properties a function leaves out.
const (
	DefaultTimeout    = 3 * time.Second
	DefaultMemorySize = 128
)

// Function is an AWS::Serverless::Function with the template's
// Globals.Function applied, as SAM applies them.
type Function struct {
	Resource
	props *yaml.Node // Properties merged with Globals.Function
}

// Functions lists the template's SAM functions in template order.
func (t *Template) Functions() []Function {
	globals := get(t.root, "Globals", "Function")
	var out []Function
	for _, r := range t.ResourcesOfType(FunctionType) {
		out = append(out, Function{Resource: r, props: mergeGlobals(globals, get(r.node, "Properties"))})
	}
	return out
}

// Function returns the SAM function with logical id id.
func (t *Template) Function(id string) (Function, bool) {
	for _, f := range t.Functions() {
		if f.ID == id {
			return f, true
		}
	}
	return Function{}, false
}

// Prop returns a property of the function (Globals applied), or nil.
func (f Function) Prop(keys ...string) *yaml.Node { return get(f.props, keys...) }

// Settings are the function's runtime settings.
type Settings struct {
	Timeout       time.Duration
	MemorySize    int
	Runtime       string
	Handler       string
	Architectures []string
	CodeURI       string // a local path, relative to the template's folder
	BuildMethod   string // Metadata.BuildMethod ("makefile", "go1.x", ...)
}

// Settings evaluates the function's runtime settings.
func (f Function) Settings(r *Resolver) (Settings, error) {
	s := Settings{Timeout: DefaultTimeout, MemorySize: DefaultMemorySize, Architectures: []string{"x86_64"}}
	var err error
	if n := f.Prop("Timeout"); n != nil {
		var secs int
		if secs, err = r.int(n); err != nil {
			return s, fmt.Errorf("%s Timeout: %w", f.ID, err)
		}
		s.Timeout = time.Duration(secs) * time.Second
	}
	if n := f.Prop("MemorySize"); n != nil {
		if s.MemorySize, err = r.int(n); err != nil {
			return s, fmt.Errorf("%s MemorySize: %w", f.ID, err)
		}
	}
	for key, dst := range map[string]*string{"Runtime": &s.Runtime, "Handler": &s.Handler, "CodeUri": &s.CodeURI} {
		if n := f.Prop(key); n != nil {
			if *dst, err = r.String(n); err != nil {
				return s, fmt.Errorf("%s %s: %w", f.ID, key, err)
			}
		}
	}
	if n := f.Prop("Architectures"); n != nil {
		v, err := r.list(n)
		if err != nil {
			return s, fmt.Errorf("%s Architectures: %w", f.ID, err)
		}
		s.Architectures = nil
		for _, a := range v {
			s.Architectures = append(s.Architectures, fmt.Sprint(a))
		}
	}
	if n := f.Metadata("BuildMethod"); n != nil {
		s.BuildMethod = n.Value
	}
	return s, nil
}

// EnvNames lists the names of the function's environment variables
// (Globals applied) without evaluating them.
func (f Function) EnvNames() []string {
	var names []string
	for _, p := range pairs(f.Prop("Environment", "Variables")) {
		names = append(names, p[0].Value)
	}
	return names
}

// Environment evaluates the function's environment variables (Globals
// applied). A variable whose value is AWS::NoValue is left out, as
// CloudFormation leaves it out.
func (f Function) Environment(r *Resolver) (map[string]string, error) {
	env := map[string]string{}
	for _, p := range pairs(f.Prop("Environment", "Variables")) {
		v, err := r.eval(p[1])
		if err != nil {
			return nil, fmt.Errorf("%s environment %s: %w", f.ID, p[0].Value, err)
		}
		if _, ok := v.(noValue); ok {
			continue
		}
		s, err := asString(v, p[1])
		if err != nil {
			return nil, fmt.Errorf("%s environment %s: %w", f.ID, p[0].Value, err)
		}
		env[p[0].Value] = s
	}
	return env, nil
}

// Event is one entry of the function's Events, unevaluated.
type Event struct {
	Name string
	Type string // HttpApi, SQS, Api, Schedule, ...
	node *yaml.Node
}

// Events lists the function's events in template order.
func (f Function) Events() []Event {
	var out []Event
	for _, p := range pairs(f.Prop("Events")) {
		e := Event{Name: p[0].Value, node: p[1]}
		if n := get(p[1], "Type"); n != nil {
			e.Type = n.Value
		}
		out = append(out, e)
	}
	return out
}

// Prop returns a property of the event, or nil.
func (e Event) Prop(keys ...string) *yaml.Node {
	return get(e.node, append([]string{"Properties"}, keys...)...)
}

// PropertyNames lists the event's properties in template order.
func (e Event) PropertyNames() []string {
	var names []string
	for _, p := range pairs(get(e.node, "Properties")) {
		names = append(names, p[0].Value)
	}
	return names
}

// int evaluates n as an integer.
func (r *Resolver) int(n *yaml.Node) (int, error) {
	s, err := r.String(n)
	if err != nil {
		return 0, err
	}
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", where(n), s)
	}
	return i, nil
}

// mergeGlobals merges SAM Globals into a resource's properties: the
// resource's scalars win, maps are merged key by key, lists are
// concatenated (globals first), as the SAM specification says.
func mergeGlobals(globals, props *yaml.Node) *yaml.Node {
	if globals == nil {
		return props
	}
	if props == nil {
		return globals
	}
	switch {
	case globals.Kind == yaml.MappingNode && props.Kind == yaml.MappingNode && !isIntrinsicMap(props):
		out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		seen := map[string]bool{}
		for _, p := range pairs(globals) {
			k := p[0].Value
			seen[k] = true
			out.Content = append(out.Content, p[0], mergeGlobals(p[1], get(props, k)))
		}
		for _, p := range pairs(props) {
			if !seen[p[0].Value] {
				out.Content = append(out.Content, p[0], p[1])
			}
		}
		return out
	case globals.Kind == yaml.SequenceNode && props.Kind == yaml.SequenceNode && !cfnTag(props.Tag) && !cfnTag(globals.Tag):
		out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		out.Content = append(append(out.Content, globals.Content...), props.Content...)
		return out
	}
	return props
}

func isIntrinsicMap(n *yaml.Node) bool {
	_, _, ok := intrinsic(n)
	return ok
}
