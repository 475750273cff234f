package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const plain = "hunter2-very-secret"

func TestSecretRedaction(t *testing.T) {
	s := NewSecret(plain)
	c := Default()
	c.HeaderSecret = s
	c.Proxy = &Proxy{Host: "h", Port: 1, Password: s}
	c.Overrides.Proxies["p"] = Proxy{Host: "h", Port: 1, Password: s}
	c.ProxyPool = []Proxy{{Host: "h", Port: 1, Password: s}}

	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		outputs["Secret "+verb] = fmt.Sprintf(verb, s)
		outputs["Config "+verb] = fmt.Sprintf(verb, c)
		outputs["*Config "+verb] = fmt.Sprintf(verb, &c)
	}
	outputs["String"] = s.String()
	outputs["Sprint"] = fmt.Sprint(s, c.Proxy)

	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("config", "secret", s, "config", c, "proxy", c.Proxy)
	outputs["slog JSON"] = buf.String()
	var text bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "secret", s, "config", c)
	outputs["slog text"] = text.String()

	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json.Marshal"] = string(js)

	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, plain) || strings.Contains(out, fmt.Sprintf("%x", plain)) {
				t.Errorf("output leaks the secret: %s", out)
			}
		})
	}
	t.Run("slog JSON value", func(t *testing.T) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(outputs["slog JSON"]), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["secret"] != "[redacted]" {
			t.Errorf(`slog "secret" = %v, want "[redacted]"`, rec["secret"])
		}
	})
	t.Run("Reveal", func(t *testing.T) {
		if s.Reveal() != plain {
			t.Errorf("Reveal = %q", s.Reveal())
		}
	})
}

func TestSecretFormsWhenUnset(t *testing.T) {
	var s Secret
	tests := []struct{ name, got, want string }{
		{"String", s.String(), ""},
		{"%v", fmt.Sprintf("%v", s), ""},
		{"set %v", fmt.Sprintf("%v", NewSecret("x")), "[redacted]"},
		{"set LogValue", NewSecret("x").LogValue().String(), "[redacted]"},
		{"%#v", fmt.Sprintf("%#v", NewSecret("x")), `config.Secret("[redacted]")`},
		{"MarshalText", string(must(NewSecret("x").MarshalText())), "[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
