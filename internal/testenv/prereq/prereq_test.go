package prereq

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCI(t *testing.T) {
	tests := []struct {
		value string
		want  bool
	}{{"", false}, {"  ", false}, {"false", false}, {"0", false}, {"true", true}, {"1", true}, {"yes", true}}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Setenv("CI", tt.value)
			if got := CI(); got != tt.want {
				t.Errorf("CI with CI=%q = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestRoot(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("Root = %s, which has no go.mod", root)
	}
	if want, _ := filepath.Abs("../../.."); root != want {
		t.Errorf("Root = %s, want %s", root, want)
	}
}
