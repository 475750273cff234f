package samtemplate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// Samconfig is a parsed samconfig.toml.
type Samconfig struct {
	tables map[string]any
}

// OpenSamconfig reads samconfig.toml at path.
func OpenSamconfig(path string) (*Samconfig, error) {
	var m map[string]any
	if _, err := toml.DecodeFile(path, &m); err != nil {
		return nil, fmt.Errorf("samconfig: %w", err)
	}
	return &Samconfig{tables: m}, nil
}

// ParseSamconfig parses samconfig.toml text.
func ParseSamconfig(data string) (*Samconfig, error) {
	var m map[string]any
	if _, err := toml.Decode(data, &m); err != nil {
		return nil, fmt.Errorf("samconfig: %w", err)
	}
	return &Samconfig{tables: m}, nil
}

// Value returns a key of `sam <command>` in config environment env, as the
// SAM CLI resolves it: [env.<command>.parameters] wins over
// [env.global.parameters], key by key. command is the CLI command with
// underscores: deploy, local_invoke, local_start_api, build.
func (c *Samconfig) Value(env, command, key string) (any, bool) {
	if v, ok := c.lookup(env, command, "parameters", key); ok {
		return v, true
	}
	return c.lookup(env, "global", "parameters", key)
}

func (c *Samconfig) lookup(keys ...string) (any, bool) {
	var v any = c.tables
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// Overrides returns the parameter_overrides `sam <command>` reads in config
// environment env; none is an empty map.
func (c *Samconfig) Overrides(env, command string) (map[string]string, error) {
	v, ok := c.Value(env, command, "parameter_overrides")
	if !ok {
		return map[string]string{}, nil
	}
	var items []string
	switch v := v.(type) {
	case string:
		items = []string{v}
	case []any:
		for _, it := range v {
			s, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("samconfig: %s.%s.parameters.parameter_overrides: want strings", env, command)
			}
			items = append(items, s)
		}
	default:
		return nil, fmt.Errorf("samconfig: %s.%s.parameters.parameter_overrides: want a string or a list", env, command)
	}
	out := map[string]string{}
	for _, it := range items {
		m, err := ParseOverrides(it)
		if err != nil {
			return nil, fmt.Errorf("samconfig: %w", err)
		}
		for k, v := range m {
			out[k] = v
		}
	}
	return out, nil
}

// ParseOverrides parses `--parameter-overrides` text, as the SAM CLI
// accepts it: space-separated Key=Value pairs, values optionally quoted
// ("a b" or 'a b'), or the long form ParameterKey=K,ParameterValue=V.
func ParseOverrides(s string) (map[string]string, error) {
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, w := range words {
		if rest, ok := strings.CutPrefix(w, "ParameterKey="); ok {
			key, value, ok := strings.Cut(rest, ",ParameterValue=")
			if !ok || key == "" {
				return nil, fmt.Errorf("parameter override %q: want ParameterKey=K,ParameterValue=V", w)
			}
			out[key] = value
			continue
		}
		key, value, ok := strings.Cut(w, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("parameter override %q: want Key=Value", w)
		}
		out[key] = value
	}
	return out, nil
}

// splitWords splits s at unquoted spaces and removes the quotes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("parameter overrides: unclosed quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
