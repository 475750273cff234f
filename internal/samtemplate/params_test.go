package samtemplate

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParameterValues(t *testing.T) {
	tpl := open(t)
	tests := []struct {
		name      string
		overrides map[string]string
		want      map[string]string
		missing   []string
		errText   []string // each must appear in the error; none: no error
	}{
		{"defaults", nil,
			map[string]string{"Stage": "dev", "Timeout": "20", "Origins": "", "Email": "a@b.c", "Concurrency": "3"},
			[]string{"Secret"}, nil},
		{"overrides", map[string]string{"Secret": "long-enough", "Stage": "prod", "Timeout": "60"},
			map[string]string{"Secret": "long-enough", "Stage": "prod", "Timeout": "60", "Origins": "", "Email": "a@b.c", "Concurrency": "3"},
			nil, nil},
		{"constraints", map[string]string{"Secret": "short", "Stage": "qa", "Timeout": "61", "Email": "nope", "Concurrency": "x"},
			nil, nil, []string{"Secret = (NoEcho value): shorter than 8", `Stage = "qa": not one of dev, prod`,
				"Timeout = \"61\": above 60", `Email = "nope": does not match`, `Concurrency = "x": not a number`}},
		{"unknown", map[string]string{"Secret": "long-enough", "Nope": "1"}, nil, nil,
			[]string{"Nope is not a parameter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, missing, err := tpl.ParameterValues(tt.overrides)
			if len(tt.errText) > 0 {
				if !errors.Is(err, ErrParameter) {
					t.Fatalf("err = %v, want ErrParameter", err)
				}
				for _, s := range tt.errText {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				if strings.Contains(err.Error(), "short\"") {
					t.Error("the error shows a NoEcho value")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(missing, tt.missing) {
				t.Errorf("values %v missing %v, want %v %v", got, missing, tt.want, tt.missing)
			}
		})
	}
}

func TestParseOverrides(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		err  bool
	}{
		{"", map[string]string{}, false},
		{"A=1 B=two", map[string]string{"A": "1", "B": "two"}, false},
		{`A="x y" B='p q' C=a=b`, map[string]string{"A": "x y", "B": "p q", "C": "a=b"}, false},
		{"Empty= X=1", map[string]string{"Empty": "", "X": "1"}, false},
		{"ParameterKey=A,ParameterValue=v1 ParameterKey=B,ParameterValue=", map[string]string{"A": "v1", "B": ""}, false},
		{"  A=1\n\tB=2  ", map[string]string{"A": "1", "B": "2"}, false},
		{"novalue", nil, true},
		{"=x", nil, true},
		{`A="open`, nil, true},
		{"ParameterKey=A", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseOverrides(tt.in)
		if (err != nil) != tt.err || !tt.err && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseOverrides(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParseOverrides(f *testing.F) {
	for _, s := range []string{"A=1 B=two", `A="x y"`, "ParameterKey=A,ParameterValue=v", "'", "=", "a=b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseOverrides(s)
		if err != nil {
			return
		}
		for k := range m {
			if k == "" {
				t.Fatalf("empty key from %q", s)
			}
		}
	})
}

const samconfigText = `
version = 0.1
[default.global.parameters]
stack_name = "st"
parameter_overrides = "Stage=dev Timeout=10"
[default.deploy.parameters]
parameter_overrides = ["Stage=prod", "Email=\"x@y.z\""]
[default.local_invoke.parameters]
capabilities = "CAPABILITY_IAM"
[dev.deploy.parameters]
parameter_overrides = "Origins='http://a http://b'"
[bad.deploy.parameters]
parameter_overrides = 3
`

func TestSamconfigOverrides(t *testing.T) {
	c, err := ParseSamconfig(samconfigText)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		env, command string
		want         map[string]string
	}{
		// The command's key replaces the global one as a whole.
		{"default", "deploy", map[string]string{"Stage": "prod", "Email": "x@y.z"}},
		{"default", "local_invoke", map[string]string{"Stage": "dev", "Timeout": "10"}},
		{"dev", "deploy", map[string]string{"Origins": "http://a http://b"}},
		{"none", "deploy", map[string]string{}},
	}
	for _, tt := range tests {
		got, err := c.Overrides(tt.env, tt.command)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s.%s: %v, %v; want %v", tt.env, tt.command, got, err, tt.want)
		}
	}
	if _, err := c.Overrides("bad", "deploy"); err == nil {
		t.Error("a number as parameter_overrides was accepted")
	}
	if v, ok := c.Value("default", "deploy", "stack_name"); !ok || v != "st" {
		t.Errorf("stack_name = %v, %v", v, ok)
	}
}
