package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/engine"
)

// Errors wrapped when a value cannot be read. The messages name the source,
// e.g. `RCH__HTTP_PORT: not a number: "abc"`.
var (
	ErrNotANumber   = errors.New("not a number")
	ErrNotABool     = errors.New("not a boolean")
	ErrWrongType    = errors.New("wrong type")
	ErrBadDuration  = errors.New("not a duration")
	ErrUnknownKey   = errors.New("unknown key")
	errNotATable    = errors.New("must be a table")
	errNotASequence = errors.New("must be a string or a list of strings")
)

// A tree is one source of settings, parsed: keys map to a sub-tree (a TOML
// table, or a level of "__" in a variable name) or to a leaf.
type tree = map[string]any

// leaf is one value and where it came from, for error messages.
type leaf struct {
	raw any    // string (environment, flags) or a TOML value (string, int64, float64, bool, []any)
	src string // "RCH__SMTP_TIMEOUT", "--smtp-timeout"; "" for the file, named by the loader
}

// settingParser is implemented by setting types that read their own value
// (Secret, ProxyList), from a string or a TOML value.
type settingParser interface {
	parseSetting(raw any) error
}

// defaulter is implemented by section types whose fields have defaults of
// their own when the section first appears ([proxy] port 1080).
type defaulter interface {
	setDefaults()
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	providerType = reflect.TypeFor[engine.Provider]()
	parserType   = reflect.TypeFor[settingParser]()
)

// loader applies trees to a Config through reflection over its toml tags:
// the one place that maps keys to fields.
type loader struct {
	layer    string // the source being applied when a leaf names none: the file's name
	warnings []string
	unknown  []error // unknown keys, fatal when the configuration is strict
	errs     []error
	set      map[string]string // dotted key → source of the value that set it last
	ignored  map[string]bool   // Reacher-only roots already reported
}

func newLoader() *loader {
	return &loader{set: map[string]string{}, ignored: map[string]bool{}}
}

// apply assigns every key of t below prefix to the struct v (addressable).
func (l *loader) apply(v reflect.Value, t tree, prefix string) {
	for _, key := range sortedKeys(t) {
		node := t[key]
		path := joinKey(prefix, key)
		if root, ok := reacherOnly(path); ok {
			if !l.ignored[root] {
				l.ignored[root] = true
				l.warnings = append(l.warnings, fmt.Sprintf("%s: ignoring Reacher-only setting %s", l.where(node, root), root))
			}
			continue
		}
		f, rest, ok := fieldFor(v, key)
		switch {
		case !ok:
			l.unknownKey(path, node)
		case rest:
			// The ",rest" map takes this key as one of its entries.
			l.assignMap(f, tree{key: node}, prefix, "")
		default:
			l.assign(f, node, path, fieldUnit(v.Type(), key))
		}
	}
}

// assign stores node at v, the value of the setting at path.
func (l *loader) assign(v reflect.Value, node any, path, unit string) {
	if isLeaf(v.Type()) {
		if err := setLeaf(v, node, unit); err != nil {
			l.errs = append(l.errs, fmt.Errorf("%s: %w", l.where(node, path), err))
			return
		}
		l.set[path] = l.sourceName(node)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
			if d, ok := v.Interface().(defaulter); ok {
				d.setDefaults()
			}
		}
		l.assign(v.Elem(), node, path, unit)
	case reflect.Struct:
		t, ok := node.(tree)
		if !ok {
			l.errs = append(l.errs, fmt.Errorf("%s: %w", l.where(node, path), errNotATable))
			return
		}
		l.apply(v, t, path)
	case reflect.Map:
		t, ok := node.(tree)
		if !ok {
			l.errs = append(l.errs, fmt.Errorf("%s: %w", l.where(node, path), errNotATable))
			return
		}
		l.assignMap(v, t, path, unit)
	default:
		panic("config: no loader for " + v.Type().String()) // a declaration error, caught by TestKnownKeys
	}
}

// assignMap stores each entry of t in the map v. Existing entries are
// updated field by field, so a variable can change one field of a section
// the file declared.
func (l *loader) assignMap(v reflect.Value, t tree, path, unit string) {
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	kt, et := v.Type().Key(), v.Type().Elem()
	for _, k := range sortedKeys(t) {
		sub := joinKey(path, k)
		if kt == providerType && !slices.Contains(engine.Providers(), engine.Provider(k)) {
			l.unknownKey(sub, t[k])
			continue
		}
		key := reflect.ValueOf(k).Convert(kt)
		elem := reflect.New(et).Elem()
		if old := v.MapIndex(key); old.IsValid() {
			elem.Set(old)
		} else if d, ok := elem.Addr().Interface().(defaulter); ok {
			d.setDefaults()
		}
		l.assign(elem, t[k], sub, unit)
		v.SetMapIndex(key, elem)
	}
}

// unknownKey records a key that names no setting, with the closest one.
func (l *loader) unknownKey(path string, node any) {
	hint := ""
	if near := closestKey(path); near != "" {
		hint = fmt.Sprintf(" (did you mean %s?)", near)
	}
	l.unknown = append(l.unknown, fmt.Errorf("%s: %w %s%s", l.sourceName(node), ErrUnknownKey, path, hint))
}

// where names the setting at path as its source knows it: the variable or
// flag, or "file: key".
func (l *loader) where(node any, path string) string {
	if src := sourceOf(node); src != "" {
		return src
	}
	return l.layer + ": " + path
}

// sourceName names the source of node alone: the variable, flag or file.
func (l *loader) sourceName(node any) string {
	if src := sourceOf(node); src != "" {
		return src
	}
	return l.layer
}

// fieldFor finds the field of struct v whose toml tag is key, or else the
// ",rest" map that takes keys no other field names (rest is then true).
func fieldFor(v reflect.Value, key string) (f reflect.Value, rest, ok bool) {
	t := v.Type()
	restField := -1
	for i := range t.NumField() {
		name := tomlName(t.Field(i))
		switch {
		case name == key:
			return v.Field(i), false, true
		case name == ",rest":
			restField = i
		}
	}
	if restField >= 0 {
		return v.Field(restField), true, true
	}
	return reflect.Value{}, false, false
}

func fieldUnit(t reflect.Type, key string) string {
	for i := range t.NumField() {
		if tomlName(t.Field(i)) == key {
			return t.Field(i).Tag.Get("unit")
		}
	}
	return ""
}

// tomlName is the key of a field: its toml tag without options, or ",rest".
func tomlName(f reflect.StructField) string {
	tag := f.Tag.Get("toml")
	if tag == ",rest" {
		return tag
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" || name == "-" || !f.IsExported() {
		return "-"
	}
	return name
}

// isLeaf reports whether values of t are set from one value rather than a
// table.
func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(parserType) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return false
	}
	return true
}

// setLeaf parses node into v. unit is the field's `unit` tag for durations.
func setLeaf(v reflect.Value, node any, unit string) error {
	if p, ok := v.Addr().Interface().(settingParser); ok {
		lf, ok := node.(leaf)
		if !ok {
			return errWrongType("a value, not a table")
		}
		return p.parseSetting(lf.raw)
	}
	if v.Type() == durationType {
		d, err := parseDuration(node, unit)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	lf, ok := node.(leaf)
	if !ok {
		return errWrongType("a value, not a table")
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := lf.raw.(string)
		if !ok {
			return errWrongType("a string")
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := toInt(lf.raw)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Bool:
		b, err := toBool(lf.raw)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Slice:
		list, err := toStrings(lf.raw)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			list = nil // "dns = []" is the default, as if unset
		}
		v.Set(reflect.ValueOf(list))
	default:
		panic("config: no leaf parser for " + v.Type().String())
	}
	return nil
}

func errWrongType(want string) error { return fmt.Errorf("%w: must be %s", ErrWrongType, want) }

func toInt(raw any) (int64, error) {
	switch x := raw.(type) {
	case int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q", ErrNotANumber, x)
		}
		return n, nil
	}
	return 0, fmt.Errorf("%w: %v", ErrNotANumber, raw)
}

func toBool(raw any) (bool, error) {
	switch x := raw.(type) {
	case bool:
		return x, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			return false, fmt.Errorf("%w: %q", ErrNotABool, x)
		}
		return b, nil
	}
	return false, fmt.Errorf("%w: %v", ErrNotABool, raw)
}

// toStrings reads a TOML list of strings or a comma-separated string.
func toStrings(raw any) ([]string, error) {
	switch x := raw.(type) {
	case string:
		return splitList(x), nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, errNotASequence
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errNotASequence
}

// parseDuration reads a count of unit ("s" or "ms"), a string with its own
// unit ("90s"), or Reacher's {secs, nanos} table.
func parseDuration(node any, unit string) (time.Duration, error) {
	u := time.Second
	if unit == "ms" {
		u = time.Millisecond
	}
	if t, ok := node.(tree); ok {
		var d time.Duration
		for _, k := range sortedKeys(t) {
			lf, ok := t[k].(leaf)
			n, err := toInt(lf.raw)
			switch {
			case !ok || err != nil || n < 0:
				return 0, fmt.Errorf("%w: %s must be a whole number ≥ 0", ErrBadDuration, k)
			case k == "secs":
				d += scale(n, time.Second)
			case k == "nanos":
				d += time.Duration(n)
			default:
				return 0, fmt.Errorf("%w: unknown field %s (want secs, nanos)", ErrBadDuration, k)
			}
		}
		return d, nil
	}
	lf := node.(leaf)
	switch x := lf.raw.(type) {
	case int64:
		return scale(x, u), nil
	case string:
		s := strings.TrimSpace(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return scale(n, u), nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%w: %q (a number of %s, or e.g. \"90s\")", ErrBadDuration, x, unitName(unit))
		}
		return d, nil
	}
	return 0, fmt.Errorf("%w: %v", ErrBadDuration, lf.raw)
}

func unitName(unit string) string {
	if unit == "ms" {
		return "milliseconds"
	}
	return "seconds"
}

// scale converts n units to a Duration, saturating instead of overflowing
// so that absurd values still fail validation predictably.
func scale(n int64, unit time.Duration) time.Duration {
	const maxD, minD = time.Duration(1<<63 - 1), time.Duration(-1 << 63)
	switch {
	case n > int64(maxD/unit):
		return maxD
	case n < int64(minD/unit):
		return minD
	}
	return time.Duration(n) * unit
}

// sourceOf names where node came from: a leaf's source, or the source of
// the first leaf below a table.
func sourceOf(node any) string {
	switch n := node.(type) {
	case leaf:
		return n.src
	case tree:
		for _, k := range sortedKeys(n) {
			if s := sourceOf(n[k]); s != "" {
				return s
			}
		}
	}
	return ""
}

func joinKey(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// splitList splits a comma-separated value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
