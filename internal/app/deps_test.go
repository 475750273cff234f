package app_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLambdaLinksNoPrometheus keeps the Prometheus client out of the
// Lambda bootstraps: they write EMF, and the client's package
// initialisation (default registry, protobuf descriptors) would only add
// to their cold start and size.
func TestLambdaLinksNoPrometheus(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../functions/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(dep, "github.com/prometheus/") {
			t.Errorf("the Lambda functions link %s", dep)
		}
	}
}
