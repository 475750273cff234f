package engine_test

import (
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/engine"
)

func TestRequestValidate(t *testing.T) {
	tests := []struct {
		name string
		req  engine.Request
		want string // substring of the error; "" for none
	}{
		{"minimal", engine.Request{ToEmail: "a@b.test"}, ""},
		{"from_email plain", engine.Request{ToEmail: "a@b.test", FromEmail: "probe@mailprobe.test"}, ""},
		{"from_email Reacher default", engine.Request{ToEmail: "a@b.test", FromEmail: "hello@localhost"}, ""},
		{"from_email address literal", engine.Request{ToEmail: "a@b.test", FromEmail: "probe@[192.0.2.1]"}, ""},
		{"from_email without @", engine.Request{ToEmail: "a@b.test", FromEmail: "x"}, `from_email: invalid address "x": missing "@"`},
		{"from_email bare @", engine.Request{ToEmail: "a@b.test", FromEmail: "@"}, "from_email: invalid address"},
		{"from_email dots", engine.Request{ToEmail: "a@b.test", FromEmail: "a..b@c.test"}, "consecutive dots"},
		{"from_email display name", engine.Request{ToEmail: "a@b.test", FromEmail: "Jo <jo@c.test>"}, "from_email must be a bare address"},
		{"from_email line break", engine.Request{ToEmail: "a@b.test", FromEmail: "a@b.test\r\nRCPT TO:<x@y>"}, "from_email must be a bare address"},
		{"hello_name tab", engine.Request{ToEmail: "a@b.test", HelloName: "mx\tevil"}, "hello_name must be a single word"},
		{"hello_name space", engine.Request{ToEmail: "a@b.test", HelloName: "mx evil"}, "hello_name must be a single word"},
		{"hello_name DEL", engine.Request{ToEmail: "a@b.test", HelloName: "mx\x7f"}, "hello_name must be a single word"},
		{"hello_name ok", engine.Request{ToEmail: "a@b.test", HelloName: "mx.mailprobe.test"}, ""},
		// Unicode line and paragraph separators, NEL and no-break space:
		// not ASCII, so not a hostname, and line breaks to some software.
		{"hello_name U+2028", engine.Request{ToEmail: "a@b.test", HelloName: "mx\u2028RCPT"}, "hello_name must be a single word of printable ASCII"},
		{"hello_name NEL", engine.Request{ToEmail: "a@b.test", HelloName: "mx\u0085x"}, "hello_name must be a single word of printable ASCII"},
		{"hello_name NBSP", engine.Request{ToEmail: "a@b.test", HelloName: "mx\u00a0x"}, "hello_name must be a single word of printable ASCII"},
		{"hello_name IDN", engine.Request{ToEmail: "a@b.test", HelloName: "mx.bücher.test"}, "hello_name must be a single word of printable ASCII"},
		{"first bad method in order", engine.Request{ToEmail: "a@b.test", YahooVerifMethod: "x", HotmailB2BVerifMethod: "y", GmailVerifMethod: "Smtp"},
			"hotmailb2b_verif_method"},
		{"hello_name before from_email and methods", engine.Request{ToEmail: "a@b.test", HelloName: "a\tb", FromEmail: "x",
			GmailVerifMethod: "x", YahooVerifMethod: "x"}, "hello_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Several runs: a field order that depended on map iteration
			// would show up as a different message.
			for range 20 {
				err := tt.req.Validate()
				switch {
				case tt.want == "" && err != nil:
					t.Fatalf("Validate() = %v, want nil", err)
				case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
					t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
				}
			}
		})
	}
}

func TestProvidersIsFresh(t *testing.T) {
	a := engine.Providers()
	if len(a) == 0 {
		t.Fatal("no providers")
	}
	a[0] = "changed"
	if b := engine.Providers(); b[0] == "changed" {
		t.Error("Providers returned a slice shared between calls")
	}
	for _, p := range engine.Providers() {
		if p == engine.Other {
			t.Error("Providers lists Other")
		}
	}
}
