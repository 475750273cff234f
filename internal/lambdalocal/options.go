// Package lambdalocal runs the project's Lambda functions on one machine as
// the SAM template wires them on AWS: the functions' own bootstraps under
// the Lambda Runtime Interface Emulator, the table and queues in the
// DynamoDB and SQS emulators, an HTTP front in API Gateway's place and an
// SQS event source in Lambda's. Everything is read from the template and
// samconfig.toml (internal/samtemplate), so it follows them as they change.
package lambdalocal

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailprobe/mailprobe/internal/cli"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// Options configure a run.
type Options struct {
	Listen     string            // the HTTP front's address
	Template   string            // SAM template
	Samconfig  string            // samconfig.toml; its deploy parameter_overrides apply
	ConfigEnv  string            // samconfig environment
	Overrides  map[string]string // --parameter-overrides, applied last
	StackName  string            // prefix of the physical names
	Engine     []config.Flag     // engine flags given (--proxy, --dns, ...)
	ConfigFile string            // --config: a backend_config.toml for the functions
	Secret     string            // RCH__HEADER_SECRET
	// VisibilityTimeout and FunctionTimeout replace the template's values
	// when set (tests shorten them).
	VisibilityTimeout, FunctionTimeout time.Duration
	// APIConcurrency bounds the instances serving HTTP requests at once.
	APIConcurrency int
	// DefaultConcurrency is the number of batches an SQS event without
	// ScalingConfig.MaximumConcurrency runs at once.
	DefaultConcurrency int
	OutputsFile        string   // where to write the stack's outputs as JSON
	Environ            []string // lambda-local's environment (emulator endpoints)
	Stdout, Stderr     io.Writer
}

// ParseArgs reads the command line; environ supplies RCH__HEADER_SECRET
// and, when set, the endpoints of running emulators.
func ParseArgs(args, environ []string, stdout, stderr io.Writer) (Options, error) {
	o := Options{Environ: environ, Stdout: stdout, Stderr: stderr}
	fs := flag.NewFlagSet("lambda-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ef cli.EngineFlags
	ef.Register(fs)
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "`host:port` of the HTTP front (port 0: any free port)")
	fs.StringVar(&o.Template, "template", "infra/template.yaml", "SAM template `file`")
	fs.StringVar(&o.Samconfig, "config-file", "samconfig.toml", "samconfig.toml `file` whose deploy parameter_overrides apply")
	fs.StringVar(&o.ConfigEnv, "config-env", "default", "samconfig `environment`")
	overrides := fs.String("parameter-overrides", "", "template parameters `Key=Value ...`, applied after samconfig's")
	fs.StringVar(&o.StackName, "stack-name", "mailprobe-local", "`prefix` of the names of the queues, table and functions")
	fs.DurationVar(&o.VisibilityTimeout, "visibility-timeout", 0, "replace the queues' VisibilityTimeout (`duration`; default: the template's)")
	fs.DurationVar(&o.FunctionTimeout, "function-timeout", 0, "replace the functions' Timeout (`duration`; default: the template's)")
	fs.IntVar(&o.APIConcurrency, "api-concurrency", 4, "most HTTP requests handled at once (instances of the API function)")
	fs.IntVar(&o.DefaultConcurrency, "sqs-concurrency", 5, "batches in flight for an SQS event without ScalingConfig.MaximumConcurrency")
	fs.StringVar(&o.OutputsFile, "outputs-file", "", "write the stack's outputs, resources and endpoints to this JSON `file`")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.Overrides, err = samtemplate.ParseOverrides(*overrides); err != nil {
		return o, err
	}
	if o.APIConcurrency < 1 || o.DefaultConcurrency < 1 {
		return o, errors.New("--api-concurrency and --sqs-concurrency must be at least 1")
	}
	if o.VisibilityTimeout < 0 || o.FunctionTimeout < 0 {
		return o, errors.New("--visibility-timeout and --function-timeout must not be negative")
	}
	o.Engine = ef.Given()
	if f := ef.ConfigFile(); f != "" {
		// The functions run in another directory: give them an absolute path.
		if o.ConfigFile, err = filepath.Abs(f); err != nil {
			return o, err
		}
		if _, err := os.Stat(o.ConfigFile); err != nil {
			return o, fmt.Errorf("--config: %w", err)
		}
	}
	o.Secret = getenv(environ, config.EnvName(secretSetting))
	if config.IsSecretRef(o.Secret) {
		return o, fmt.Errorf("%s: a secret reference (ssm:, secretsmanager:) cannot be resolved locally; give the secret itself", config.EnvName(secretSetting))
	}
	return o, nil
}

func getenv(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}
