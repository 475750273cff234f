package samtemplate

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The intrinsic functions that compute values; Ref and Fn::GetAtt are in
// intrinsics.go.

// sub implements Fn::Sub: "${Name}", "${Res.Attr}", "${!Literal}", with an
// optional map of variables.
func (r *Resolver) sub(arg *yaml.Node) (any, error) {
	tmpl, vars := arg, map[string]string{}
	if arg.Kind == yaml.SequenceNode {
		if len(arg.Content) != 2 {
			return nil, errors.New("want a string or [string, variables]")
		}
		tmpl = arg.Content[0]
		for _, p := range pairs(arg.Content[1]) {
			v, err := r.String(p[1])
			if err != nil {
				return nil, err
			}
			vars[p[0].Value] = v
		}
	}
	s := tmpl.Value
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed ${ in %q", tmpl.Value)
		}
		b.WriteString(s[:i])
		name := s[i+2 : i+j]
		s = s[i+j+1:]
		if lit, ok := strings.CutPrefix(name, "!"); ok {
			b.WriteString("${" + lit + "}")
			continue
		}
		v, err := r.subVar(strings.TrimSpace(name), vars)
		if err != nil {
			return nil, err
		}
		b.WriteString(v)
	}
}

func (r *Resolver) subVar(name string, vars map[string]string) (string, error) {
	if v, ok := vars[name]; ok {
		return v, nil
	}
	if res, attr, ok := strings.Cut(name, "."); ok {
		return r.attr(res, attr)
	}
	v, err := r.ref(name)
	if err != nil {
		return "", err
	}
	return asString(v, nil)
}

func (r *Resolver) fnIf(arg *yaml.Node) (any, error) {
	if arg.Kind != yaml.SequenceNode || len(arg.Content) != 3 {
		return nil, errors.New("want [condition, value if true, value if false]")
	}
	ok, err := r.Condition(arg.Content[0].Value)
	if err != nil {
		return nil, err
	}
	if ok {
		return r.eval(arg.Content[1])
	}
	return r.eval(arg.Content[2])
}

func (r *Resolver) logic(name string, arg *yaml.Node) (any, error) {
	if arg.Kind != yaml.SequenceNode {
		return nil, errors.New("want a list")
	}
	if name == "Fn::Equals" {
		if len(arg.Content) != 2 {
			return nil, errors.New("want two values")
		}
		a, err := r.eval(arg.Content[0])
		if err != nil {
			return nil, err
		}
		b, err := r.eval(arg.Content[1])
		if err != nil {
			return nil, err
		}
		return fmt.Sprint(a) == fmt.Sprint(b), nil
	}
	bools := make([]bool, len(arg.Content))
	for i, c := range arg.Content {
		v, err := r.eval(c)
		if err != nil {
			return nil, err
		}
		b, ok := v.(bool)
		if !ok {
			return nil, errors.New("want conditions")
		}
		bools[i] = b
	}
	switch name {
	case "Fn::Not":
		if len(bools) != 1 {
			return nil, errors.New("want one condition")
		}
		return !bools[0], nil
	case "Fn::And":
		return !slices.Contains(bools, false), nil
	default: // Fn::Or
		return slices.Contains(bools, true), nil
	}
}

func (r *Resolver) list(n *yaml.Node) ([]any, error) {
	v, err := r.eval(n)
	if err != nil {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want a list", where(n))
	}
	return l, nil
}

func (r *Resolver) join(arg *yaml.Node) (any, error) {
	if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
		return nil, errors.New("want [delimiter, list]")
	}
	items, err := r.list(arg.Content[1])
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(items))
	for i, it := range items {
		if parts[i], err = asString(it, arg.Content[1]); err != nil {
			return nil, err
		}
	}
	return strings.Join(parts, arg.Content[0].Value), nil
}

func (r *Resolver) selectFn(arg *yaml.Node) (any, error) {
	if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
		return nil, errors.New("want [index, list]")
	}
	is, err := r.String(arg.Content[0])
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(is)
	if err != nil {
		return nil, fmt.Errorf("index %q: %w", is, err)
	}
	items, err := r.list(arg.Content[1])
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(items) {
		return nil, fmt.Errorf("index %d out of range (%d items)", i, len(items))
	}
	return items[i], nil
}

func (r *Resolver) split(arg *yaml.Node) (any, error) {
	if arg.Kind != yaml.SequenceNode || len(arg.Content) != 2 {
		return nil, errors.New("want [delimiter, string]")
	}
	s, err := r.String(arg.Content[1])
	if err != nil {
		return nil, err
	}
	var out []any
	for _, p := range strings.Split(s, arg.Content[0].Value) {
		out = append(out, p)
	}
	return out, nil
}

func (r *Resolver) findInMap(arg *yaml.Node) (any, error) {
	if arg.Kind != yaml.SequenceNode || len(arg.Content) != 3 {
		return nil, errors.New("want [map, top-level key, second-level key]")
	}
	keys := make([]string, 3)
	for i, c := range arg.Content {
		k, err := r.String(c)
		if err != nil {
			return nil, err
		}
		keys[i] = k
	}
	n := get(r.t.root, append([]string{"Mappings"}, keys...)...)
	if n == nil {
		return nil, fmt.Errorf("%w: Mappings.%s", ErrUnresolved, strings.Join(keys, "."))
	}
	return r.eval(n)
}

// sortedKeys returns m's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// subNames lists the names a Fn::Sub string refers to: "Name" for
// ${Name} and ${Name.Attr}; ${!Literal} refers to nothing.
func subNames(s string) []string {
	var out []string
	for _, v := range subVars(s) {
		res, _, _ := strings.Cut(v, ".")
		out = append(out, res)
	}
	return out
}

// subAttrs lists the ${Res.Attr} variables of a Fn::Sub string.
func subAttrs(s string) []string {
	var out []string
	for _, v := range subVars(s) {
		if strings.Contains(v, ".") {
			out = append(out, v)
		}
	}
	return out
}

// subVars lists the variables of a Fn::Sub string, ${!Literal} excluded.
func subVars(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return out
		}
		name := strings.TrimSpace(s[i+2 : i+j])
		s = s[i+j+1:]
		if !strings.HasPrefix(name, "!") {
			out = append(out, name)
		}
	}
}
