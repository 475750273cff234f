package samtemplate

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrUnresolved is wrapped when a value refers to a parameter without a
// value, a resource the Stack does not know, or a missing attribute.
var ErrUnresolved = errors.New("unresolved reference")

// ErrUnsupported is wrapped for an intrinsic function this package does
// not evaluate (Fn::ImportValue, Fn::GetAZs, ...).
var ErrUnsupported = errors.New("unsupported intrinsic function")

// Stack is what intrinsic functions read besides the template itself.
type Stack struct {
	// Params holds the value of each parameter (see Template.ParameterValues).
	Params map[string]string
	// Refs gives what !Ref returns for a resource: its physical id (a table
	// name, a queue URL, a function name).
	Refs map[string]string
	// Attrs gives what !GetAtt returns: "JobQueue.Arn" → an ARN.
	Attrs map[string]string
	// Pseudo parameters; empty fields take the defaults in Pseudo's doc.
	Region, AccountID, StackName string
}

// Pseudo returns the pseudo parameters: AWS::Region (default us-east-1),
// AWS::AccountId (000000000000, the emulators' account), AWS::StackName
// (mailprobe), AWS::Partition, AWS::URLSuffix, AWS::StackId.
func (s Stack) Pseudo() map[string]string {
	region, account, stack := s.Region, s.AccountID, s.StackName
	if region == "" {
		region = "us-east-1"
	}
	if account == "" {
		account = "000000000000"
	}
	if stack == "" {
		stack = "mailprobe"
	}
	return map[string]string{
		"AWS::Region": region, "AWS::AccountId": account, "AWS::StackName": stack,
		"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
		"AWS::StackId": "arn:aws:cloudformation:" + region + ":" + account + ":stack/" + stack + "/local",
	}
}

// Resolver evaluates template values against a Stack.
type Resolver struct {
	t      *Template
	s      Stack
	pseudo map[string]string
	conds  map[string]bool
	active map[string]bool // conditions being evaluated, to catch cycles
}

// Resolver returns a Resolver of t's values for s.
func (t *Template) Resolver(s Stack) *Resolver {
	return &Resolver{t: t, s: s, pseudo: s.Pseudo(), conds: map[string]bool{}, active: map[string]bool{}}
}

// noValue is AWS::NoValue: the key or list item holding it disappears.
type noValue struct{}

// Value evaluates n: a string (every scalar, as CloudFormation passes
// parameters), a []any, a map[string]any, or a bool for conditions.
func (r *Resolver) Value(n *yaml.Node) (any, error) {
	v, err := r.eval(n)
	if _, ok := v.(noValue); ok {
		return nil, nil
	}
	return v, err
}

// String evaluates n and requires a string (or a number or boolean).
func (r *Resolver) String(n *yaml.Node) (string, error) {
	v, err := r.eval(n)
	if err != nil {
		return "", err
	}
	return asString(v, n)
}

func asString(v any, n *yaml.Node) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case noValue:
		return "", nil
	default:
		return "", fmt.Errorf("%s: want a string, got %T", where(n), v)
	}
}

// Condition evaluates the template's condition name.
func (r *Resolver) Condition(name string) (bool, error) {
	if v, ok := r.conds[name]; ok {
		return v, nil
	}
	if r.active[name] {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	n := get(r.t.root, "Conditions", name)
	if n == nil {
		return false, fmt.Errorf("%w: no condition %s", ErrUnresolved, name)
	}
	r.active[name] = true
	v, err := r.eval(n)
	delete(r.active, name)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s: not a boolean", name)
	}
	r.conds[name] = b
	return b, nil
}

// intrinsic recognises `!Name arg` and `{Fn::Name: arg}` / `{Ref: arg}`,
// returning the long name and the argument node.
func intrinsic(n *yaml.Node) (name string, arg *yaml.Node, ok bool) {
	if n == nil {
		return "", nil, false
	}
	if cfnTag(n.Tag) {
		short := strings.TrimPrefix(n.Tag, "!")
		arg := *n
		arg.Tag = ""
		switch short {
		case "Ref", "Condition":
			return short, &arg, true
		default:
			return "Fn::" + short, &arg, true
		}
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, n.Content[1], true
		}
	}
	return "", nil, false
}

func (r *Resolver) eval(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, errors.New("missing value")
	}
	if name, arg, ok := intrinsic(n); ok {
		v, err := r.call(name, arg)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", where(n), name, err)
		}
		return v, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value, nil
	case yaml.AliasNode:
		return r.eval(n.Alias)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := r.eval(c)
			if err != nil {
				return nil, err
			}
			if _, ok := v.(noValue); !ok {
				out = append(out, v)
			}
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for _, p := range pairs(n) {
			v, err := r.eval(p[1])
			if err != nil {
				return nil, err
			}
			if _, ok := v.(noValue); !ok {
				out[p[0].Value] = v
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: unexpected YAML node", where(n))
}

func (r *Resolver) call(name string, arg *yaml.Node) (any, error) {
	switch name {
	case "Ref":
		return r.ref(arg.Value)
	case "Condition":
		return r.Condition(arg.Value)
	case "Fn::GetAtt":
		return r.getAtt(arg)
	case "Fn::Sub":
		return r.sub(arg)
	case "Fn::If":
		return r.fnIf(arg)
	case "Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or":
		return r.logic(name, arg)
	case "Fn::Join":
		return r.join(arg)
	case "Fn::Select":
		return r.selectFn(arg)
	case "Fn::Split":
		return r.split(arg)
	case "Fn::FindInMap":
		return r.findInMap(arg)
	case "Fn::Base64":
		s, err := r.String(arg)
		return base64.StdEncoding.EncodeToString([]byte(s)), err
	case "Fn::ToJsonString":
		v, err := r.Value(arg)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		return string(b), err
	}
	return nil, ErrUnsupported
}

// ref resolves a parameter, a pseudo parameter or a resource.
func (r *Resolver) ref(name string) (any, error) {
	if name == "AWS::NoValue" {
		return noValue{}, nil
	}
	if v, ok := r.pseudo[name]; ok {
		return v, nil
	}
	if get(r.t.root, "Parameters", name) != nil {
		v, ok := r.s.Params[name]
		if !ok {
			return nil, fmt.Errorf("%w: parameter %s has no value", ErrUnresolved, name)
		}
		return v, nil
	}
	if _, ok := r.t.Resource(name); ok {
		v, ok := r.s.Refs[name]
		if !ok {
			return nil, fmt.Errorf("%w: resource %s", ErrUnresolved, name)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%w: %s is neither a parameter nor a resource", ErrUnresolved, name)
}

// getAttTarget reads the argument of Fn::GetAtt: "Res.Attr" or [Res, Attr].
func getAttTarget(arg *yaml.Node) (res, attr string, err error) {
	switch {
	case arg.Kind == yaml.ScalarNode:
		res, attr, ok := strings.Cut(arg.Value, ".")
		if !ok {
			return "", "", fmt.Errorf("%q is not Resource.Attribute", arg.Value)
		}
		return res, attr, nil
	case arg.Kind == yaml.SequenceNode && len(arg.Content) == 2:
		return arg.Content[0].Value, arg.Content[1].Value, nil
	}
	return "", "", errors.New("want Resource.Attribute or [Resource, Attribute]")
}

func (r *Resolver) getAtt(arg *yaml.Node) (any, error) {
	res, attr, err := getAttTarget(arg)
	if err != nil {
		return nil, err
	}
	return r.attr(res, attr)
}

func (r *Resolver) attr(res, attr string) (string, error) {
	v, ok := r.s.Attrs[res+"."+attr]
	if !ok {
		return "", fmt.Errorf("%w: %s.%s", ErrUnresolved, res, attr)
	}
	return v, nil
}

// Exists reports whether a resource exists: it has no Condition, or its
// condition is true.
func (r *Resolver) Exists(res Resource) (bool, error) {
	if res.Condition == "" {
		return true, nil
	}
	return r.Condition(res.Condition)
}

// Outputs evaluates the template's outputs whose condition holds. Outputs
// that cannot be evaluated with the Stack (an attribute nobody gave) are
// reported in failed rather than stopping the others.
func (r *Resolver) Outputs() (values map[string]string, failed map[string]error) {
	values, failed = map[string]string{}, map[string]error{}
	for _, o := range r.t.Outputs() {
		if o.Condition != "" {
			ok, err := r.Condition(o.Condition)
			if err != nil {
				failed[o.Name] = err
			}
			if !ok {
				continue
			}
		}
		v, err := r.String(o.value)
		if err != nil {
			failed[o.Name] = err
			continue
		}
		values[o.Name] = v
	}
	return values, failed
}
