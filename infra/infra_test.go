package infra

import (
	"bytes"
	"testing"
)

func TestRoutes(t *testing.T) {
	routes := Routes()
	if len(routes) != 9 {
		t.Fatalf("%d routes, want 9: %v", len(routes), routes)
	}
	if got := routes[0].String(); got != "POST /v0/check_email" {
		t.Errorf("first route = %q", got)
	}
}

func TestParseRoutes(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    int
		wantErr bool
	}{
		{"comments and blanks", "# c\n\nGET /a\n  POST /b  \n", 2, false},
		{"missing path", "GET\n", 0, true},
		{"relative path", "GET a\n", 0, true},
		{"lower-case method", "get /a\n", 0, true},
		{"extra field", "GET /a b\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRoutes(tt.text)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != tt.want {
				t.Errorf("got %d routes, want %d", len(got), tt.want)
			}
		})
	}
}

func TestTemplateEmbedded(t *testing.T) {
	a := Template()
	if !bytes.Contains(a, []byte("AWS::Serverless-2016-10-31")) {
		t.Fatal("embedded template is not the SAM template")
	}
	a[0] = 'X'
	if Template()[0] == 'X' {
		t.Error("Template returns shared bytes")
	}
}
