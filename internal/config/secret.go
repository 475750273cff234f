package config

import (
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[redacted]"

// Secret holds a credential (the header secret, a proxy password). It never
// prints its value: fmt (every verb), slog and encoding/json all see
// "[redacted]". Use Reveal where the value must really be sent.
//
// The value sits behind a pointer because fmt, when it reports a bad verb
// for an enclosing struct, prints fields by reflection without calling
// Format; nested pointers are then printed as addresses, never contents.
// Compare secrets with Equal or Reveal, not ==.
type Secret struct {
	value *string
}

// NewSecret wraps v.
func NewSecret(v string) Secret {
	if v == "" {
		return Secret{}
	}
	return Secret{value: &v}
}

// Reveal returns the secret value. Call it only where the value leaves the
// process on purpose (a SOCKS5 handshake, a secret-store lookup).
func (s Secret) Reveal() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s.value == nil }

// String returns "[redacted]", or "" when the secret is unset.
func (s Secret) String() string {
	if s.value == nil {
		return ""
	}
	return redacted
}

// GoString keeps %#v from showing the value.
func (s Secret) GoString() string { return `config.Secret("` + s.String() + `")` }

// Format implements fmt.Formatter so that no verb (%d, %x on the struct...)
// can reach the value through reflection.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler with the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText implements encoding.TextMarshaler with the redacted form, so
// that TOML or YAML encoders do not leak the value either.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// parseSetting lets the loader read a secret from a file or variable.
func (s *Secret) parseSetting(raw any) error {
	v, ok := raw.(string)
	if !ok {
		return errWrongType("a string")
	}
	*s = NewSecret(v)
	return nil
}
