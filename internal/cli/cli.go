package cli

import (
	"context"
	"fmt"
	"io"
)

// Env is what a command needs from the process, so tests can run it.
type Env struct {
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Environ []string
}

const usage = `usage: mailprobe <command> [flags]

commands:
  check [flags] EMAIL...   verify addresses ("-" reads one per line from stdin, --input FILE a list)
  serve [flags]            run the HTTP API with the embedded queue and store
  doctor [flags]           check the DNS resolver and each proxy against a real MX
  version                  print the version

Run "mailprobe <command> -h" for the flags of a command.
`

// Run executes one command and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "check":
		return runCheck(ctx, args[1:], env)
	case "serve":
		return runServe(ctx, args[1:], env)
	case "doctor":
		return runDoctor(ctx, args[1:], env)
	case "version":
		fmt.Fprintln(env.Stdout, Version())
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(env.Stdout, usage)
		return 0
	}
	fmt.Fprintf(env.Stderr, "mailprobe: unknown command %q\n\n%s", args[0], usage)
	return 2
}
