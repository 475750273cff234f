package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailprobe/mailprobe/internal/lambdalocal"
	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// pairs is a repeatable NAME=VALUE flag.
type pairs map[string]string

func (p pairs) String() string { return "" }

func (p pairs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", s)
	}
	p[k] = v
	return nil
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sam-env-vars", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := samtemplate.Source{}
	fs.StringVar(&src.Template, "template", "infra/template.yaml", "SAM template `file`")
	fs.StringVar(&src.Samconfig, "config-file", "samconfig.toml", "samconfig.toml `file` whose parameter_overrides apply")
	fs.StringVar(&src.ConfigEnv, "config-env", "default", "samconfig `environment`")
	fs.StringVar(&src.Command, "command", "local_invoke", "SAM CLI `command` whose parameters apply (local_invoke, deploy, ...)")
	overrides := fs.String("parameter-overrides", "", "`Key=Value ...` applied last, as with sam --parameter-overrides")
	refs, attrs := pairs{}, pairs{}
	fs.Var(refs, "ref", "`Resource=value` that !Ref gives for a resource (default: its logical id, as sam local does); repeatable")
	fs.Var(attrs, "attr", "`Resource.Attribute=value` that !GetAtt gives (default: \"Resource.Attribute\"); repeatable")
	out := fs.String("o", "", "output `file` (default: standard output)")
	useEmulators := fs.Bool("emulators", false, "create the template's tables, queues and buckets in the emulators "+
		"($MAILPROBE_SQS_ENDPOINT, $MAILPROBE_DYNAMODB_ENDPOINT, $MAILPROBE_S3_ENDPOINT: scripts/emulators.sh start), "+
		"as make run-lambda does, and point the functions at them")
	stackName := fs.String("stack-name", "mailprobe-local", "`prefix` of the names of what -emulators creates")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if src.Overrides, err = samtemplate.ParseOverrides(*overrides); err != nil {
		fmt.Fprintf(stderr, "sam-env-vars: %v\n", err)
		return 2
	}
	d, err := samtemplate.Load(src)
	if err != nil {
		fmt.Fprintf(stderr, "sam-env-vars: %v\n", err)
		return 1
	}
	stack, notes := d.LocalStack(refs, attrs)
	var emu lambdalocal.Endpoints
	if *useEmulators {
		if emu, err = endpointsFrom(getenv); err != nil {
			fmt.Fprintf(stderr, "sam-env-vars: %v\n", err)
			return 2
		}
		more, err := lambdalocal.ProvisionStable(context.Background(), d, stack, emu, *stackName)
		if err != nil {
			fmt.Fprintf(stderr, "sam-env-vars: emulators: %v\n", err)
			return 1
		}
		notes = append(notes, more...)
	}
	for _, n := range notes {
		fmt.Fprintf(stderr, "sam-env-vars: note: %s\n", n)
	}
	envs, err := d.Environments(d.Resolver(stack))
	if err != nil {
		fmt.Fprintf(stderr, "sam-env-vars: %v\n", err)
		return 1
	}
	if *useEmulators {
		pointAt(envs, emu)
	}
	b, _ := json.MarshalIndent(envs, "", "  ") // maps of strings always marshal
	b = append(b, '\n')
	if *out == "" {
		_, err = stdout.Write(b)
	} else if err = os.MkdirAll(filepath.Dir(*out), 0o755); err == nil {
		// The file may hold a secret given as an override: owner only.
		err = os.WriteFile(*out, b, 0o600)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sam-env-vars: %v\n", err)
		return 1
	}
	return 0
}
