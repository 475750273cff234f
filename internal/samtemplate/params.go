package samtemplate

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Parameter is one entry of the template's Parameters.
type Parameter struct {
	Name          string
	Type          string // String, Number, CommaDelimitedList, ...
	Default       string
	HasDefault    bool
	NoEcho        bool // a secret: never print its value
	AllowedValues []string
	Pattern       string // AllowedPattern, anchored as CloudFormation anchors it
	MinLength     *int
	MaxLength     *int
	MinValue      *float64
	MaxValue      *float64
}

// Parameters lists the template's parameters in template order.
func (t *Template) Parameters() []Parameter {
	var out []Parameter
	for _, kv := range pairs(get(t.root, "Parameters")) {
		n := kv[1]
		p := Parameter{Name: kv[0].Value}
		if v := get(n, "Type"); v != nil {
			p.Type = v.Value
		}
		if v := get(n, "Default"); v != nil {
			p.Default, p.HasDefault = v.Value, true
		}
		if v := get(n, "NoEcho"); v != nil {
			p.NoEcho, _ = strconv.ParseBool(v.Value)
		}
		if v := get(n, "AllowedValues"); v != nil {
			for _, c := range v.Content {
				p.AllowedValues = append(p.AllowedValues, c.Value)
			}
		}
		if v := get(n, "AllowedPattern"); v != nil {
			p.Pattern = v.Value
		}
		p.MinLength, p.MaxLength = intField(n, "MinLength"), intField(n, "MaxLength")
		p.MinValue, p.MaxValue = floatField(n, "MinValue"), floatField(n, "MaxValue")
		out = append(out, p)
	}
	return out
}

func intField(n *yaml.Node, key string) *int {
	v := get(n, key)
	if v == nil {
		return nil
	}
	i, err := strconv.Atoi(v.Value)
	if err != nil {
		return nil
	}
	return &i
}

func floatField(n *yaml.Node, key string) *float64 {
	v := get(n, key)
	if v == nil {
		return nil
	}
	f, err := strconv.ParseFloat(v.Value, 64)
	if err != nil {
		return nil
	}
	return &f
}

// ErrParameter is wrapped by every parameter error: an unknown name, or a
// value outside the parameter's constraints.
var ErrParameter = errors.New("invalid parameter")

// ParameterValues applies overrides to the parameters' defaults, as
// CloudFormation does on deploy, and checks every value given against the
// parameter's constraints (AllowedValues, AllowedPattern, lengths, bounds).
// Parameters with neither an override nor a default are listed in missing
// and have no entry in values. An override naming no parameter is an
// error, as it is for `sam deploy`.
func (t *Template) ParameterValues(overrides map[string]string) (values map[string]string, missing []string, err error) {
	params := t.Parameters()
	values = map[string]string{}
	var errs []error
	for _, name := range sortedKeys(overrides) {
		if !slices.ContainsFunc(params, func(p Parameter) bool { return p.Name == name }) {
			errs = append(errs, fmt.Errorf("%w: %s is not a parameter of the template", ErrParameter, name))
		}
	}
	for _, p := range params {
		v, ok := overrides[p.Name]
		if !ok && p.HasDefault {
			v, ok = p.Default, true
		}
		if !ok {
			missing = append(missing, p.Name)
			continue
		}
		if err := p.Check(v); err != nil {
			errs = append(errs, err)
		}
		values[p.Name] = v
	}
	return values, missing, errors.Join(errs...)
}

// Check reports whether v satisfies the parameter's constraints. Its
// message never contains v when the parameter is NoEcho.
func (p Parameter) Check(v string) error {
	shown := strconv.Quote(v)
	if p.NoEcho {
		shown = "(NoEcho value)"
	}
	fail := func(why string) error {
		return fmt.Errorf("%w: %s = %s: %s", ErrParameter, p.Name, shown, why)
	}
	if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v) {
		return fail("not one of " + strings.Join(p.AllowedValues, ", "))
	}
	if p.Pattern != "" {
		// CloudFormation matches the whole value against the pattern.
		re, err := regexp.Compile("^(?:" + p.Pattern + ")$")
		if err != nil {
			return fmt.Errorf("%w: %s: AllowedPattern: %w", ErrParameter, p.Name, err)
		}
		if !re.MatchString(v) {
			return fail("does not match " + p.Pattern)
		}
	}
	n := utf8.RuneCountInString(v)
	if p.MinLength != nil && n < *p.MinLength {
		return fail(fmt.Sprintf("shorter than %d characters", *p.MinLength))
	}
	if p.MaxLength != nil && n > *p.MaxLength {
		return fail(fmt.Sprintf("longer than %d characters", *p.MaxLength))
	}
	if p.Type == "Number" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fail("not a number")
		}
		if p.MinValue != nil && f < *p.MinValue {
			return fail(fmt.Sprintf("below %v", *p.MinValue))
		}
		if p.MaxValue != nil && f > *p.MaxValue {
			return fail(fmt.Sprintf("above %v", *p.MaxValue))
		}
	}
	return nil
}
