package infra

import (
	"context"
	"os/exec"
	"testing"
)

// TestCfnLint runs cfn-lint, which expands the SAM transform with AWS's own
// translator and checks the result against the CloudFormation resource
// specifications. It is skipped where cfn-lint is not installed.
func TestCfnLint(t *testing.T) {
	if testing.Short() {
		t.Skip("cfn-lint is slow; skipped with -short")
	}
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint not installed")
	}
	cmd := exec.CommandContext(context.Background(), bin, "--", templatePath)
	cmd.Env = append(cmd.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("cfn-lint %s: %v\n%s", templatePath, err, out)
	}
}
