package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/mailprobe/mailprobe/internal/app"
	"github.com/mailprobe/mailprobe/internal/doctor"
)

// runDoctor checks the setup the engine flags describe and exits 1 when a
// check fails, 2 on a usage error.
func runDoctor(ctx context.Context, args []string, env Env) int {
	fs := flag.NewFlagSet("mailprobe doctor", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var ef engineFlags
	ef.register(fs)
	target := fs.String("target", "", "`host` to reach through each proxy: a domain (its MX is used), an MX host or an IP (default: the MX of "+doctor.DefaultTarget+", resolved now)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "mailprobe doctor: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := doctor.ValidateTarget(*target); err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe doctor: --target: %v\n", err)
		return 2
	}
	var rep doctor.Report
	if cfg, err := ef.load(env.Environ); err != nil {
		rep = doctor.ConfigError(err)
	} else if d, err := app.NewDoctor(cfg); err != nil {
		rep = doctor.ConfigError(err)
	} else {
		rep = d.Run(ctx, *target)
	}
	var err error
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(env.Stdout)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mailprobe doctor: %v\n", err)
		return 1
	}
	if !rep.OK {
		return 1
	}
	return 0
}
