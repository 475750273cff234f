// Package prereq is what the tests know of their prerequisites: where the
// repository is (its .tools and .emulators hold what `make tools`,
// `make emulators` and scripts/apt-deps.sh install), and what a missing
// one means. On a developer's machine a test without its server or tool
// is skipped, loudly; under CI it fails, so that a green CI run means every
// suite ran.
package prereq

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Root walks up from the working directory to the directory with go.mod:
// the repository root.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("prereq: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("prereq: no go.mod above the working directory")
		}
		dir = parent
	}
}

// CI reports whether CI is set to a true value, as CI services do.
func CI() bool {
	v := strings.TrimSpace(os.Getenv("CI"))
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b // an unparsable value such as "yes" still means CI
}

// Missing ends a test whose prerequisite is missing, msg saying which and
// how to install it: under CI the test fails; otherwise it is skipped, and
// the skip is also written to stderr, where `go test` without -v shows it.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatal(msg)
	}
	fmt.Fprintf(os.Stderr, "\n!!! SKIP %s: %s\n\n", t.Name(), msg)
	t.Skip(msg)
}
