// Command sam-env-vars writes the --env-vars file of `sam local invoke`
// from infra/template.yaml and samconfig.toml: each function's environment
// as the template computes it for the chosen samconfig environment and
// command, so the file never restates what the template declares.
//
//	go run ./cmd/sam-env-vars -o .aws-sam/env-vars.json -ref MailprobeTable=my-table
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
