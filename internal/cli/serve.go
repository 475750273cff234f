package cli

import (
	"context"
	"fmt"
)

func runServe(ctx context.Context, args []string, env Env) int {
	fmt.Fprintln(env.Stderr, "mailprobe serve: not wired yet")
	return 1
}
