package lambdalocal

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"time"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
	"github.com/mailprobe/mailprobe/internal/testenv/esm"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
)

// goArch maps Lambda's architecture names to Go's.
var goArch = map[string]string{"arm64": "arm64", "x86_64": "amd64"}

// startFunctions builds every function for this machine and starts its
// instances: one per concurrent request for the HTTP routes (up to
// --api-concurrency) and one per concurrent batch of each SQS event.
func (l *local) startFunctions(ctx context.Context) error {
	envs, err := l.d.Environments(l.r)
	if err != nil {
		return err
	}
	for fn, env := range envs {
		for k, v := range env {
			if env[k], err = resolveDynamic(v, l.c.secrets); err != nil {
				return fmt.Errorf("%s environment %s: %w", fn, k, err)
			}
		}
	}
	settings := settings{flags: l.o.Engine, configFile: l.o.ConfigFile, secret: l.o.Secret,
		sqsURL: l.emu.sqsURL, dynamoURL: l.emu.ddbURL, s3URL: l.emu.s3URL}
	if wantsSecret(envs) && settings.secret == "" {
		return fmt.Errorf("set RCH__HEADER_SECRET: the template gives the API function a header secret")
	}
	riePath, err := l.rieBinary()
	if err != nil {
		return err
	}
	demand, warm, err := l.concurrency()
	if err != nil {
		return err
	}
	if l.buildDir, err = os.MkdirTemp("", "lambda-local-"); err != nil {
		return err
	}
	templateDir, err := filepath.Abs(filepath.Dir(l.o.Template))
	if err != nil {
		return err
	}
	for _, fn := range l.d.Functions() {
		env, ok := envs[fn.ID]
		if !ok {
			continue // its Condition is false
		}
		s, err := fn.Settings(l.r)
		if err != nil {
			return err
		}
		s.Timeout = l.functionTimeout(fn.ID)
		if fn.Prop("Policies") != nil || fn.Prop("Role") != nil {
			l.c.note("%s: its IAM role and policies are not enforced (the emulators accept any credentials)", fn.ID)
		}
		if len(s.Architectures) > 0 && goArch[s.Architectures[0]] != goruntime.GOARCH {
			l.c.note("%s: built for %s, this machine's architecture; AWS runs it on %s", fn.ID, goruntime.GOARCH, s.Architectures[0])
		}
		l.log.Info("building", "function", fn.ID, "method", s.BuildMethod)
		dir := filepath.Join(l.buildDir, fn.ID)
		bootstrap, err := build(ctx, templateDir, fn.ID, s, dir, l.logs.prefixed("build "+fn.ID))
		if err != nil {
			return err
		}
		fenv := functionEnv(env, settings, runtime{name: l.c.refs[fn.ID], memory: s.MemorySize, timeout: s.Timeout, taskDir: dir})
		start := func(ctx context.Context, out *lineWriter) (process, error) {
			return rie.Launch(ctx, rie.Options{RIE: riePath, Bootstrap: bootstrap, Env: fenv, Output: out, Dir: dir})
		}
		l.timeouts[fn.ID] = s.Timeout
		l.pools[fn.ID] = newPool(fn.ID, max(1, demand[fn.ID]), l.logs, l.log, start)
		if err := l.pools[fn.ID].warm(ctx, warm[fn.ID]); err != nil {
			return fmt.Errorf("start %s: %w", fn.ID, err)
		}
	}
	return nil
}

// concurrency returns how many instances each function may run at once
// and how many to start ahead: one for the routes, and the concurrency
// of each SQS event. An SQS event's queue must outlast the function's
// timeout, as AWS requires of an event source mapping.
func (l *local) concurrency() (demand, warm map[string]int, err error) {
	demand, warm = map[string]int{}, map[string]int{}
	routes, err := l.d.Routes(l.r)
	if err != nil {
		return nil, nil, err
	}
	for _, rt := range routes {
		if demand[rt.Function] == 0 {
			demand[rt.Function] += l.o.APIConcurrency
			warm[rt.Function] = 1
		}
	}
	if l.events, err = l.sqsEvents(); err != nil {
		return nil, nil, err
	}
	for _, ev := range l.events {
		q, timeout := l.c.queues[ev.Queue], l.functionTimeout(ev.Function)
		if q.VisibilityTimeout < timeout {
			return nil, nil, fmt.Errorf("%s's visibility timeout (%s) is shorter than %s's timeout (%s): AWS refuses such an event source mapping (lower --function-timeout too)",
				ev.Queue, q.VisibilityTimeout, ev.Function, timeout)
		}
		n := l.eventConcurrency(ev)
		demand[ev.Function] += n
		warm[ev.Function] += n
	}
	return demand, warm, nil
}

func (l *local) eventConcurrency(ev samtemplate.SQSEvent) int {
	if ev.MaximumConcurrency > 0 {
		return ev.MaximumConcurrency
	}
	return l.o.DefaultConcurrency
}

// sqsEvents returns the enabled SQS events whose queue lambda-local
// created, and notes the others.
func (l *local) sqsEvents() ([]samtemplate.SQSEvent, error) {
	all, err := l.d.SQSEvents(l.r)
	if err != nil {
		return nil, err
	}
	var out []samtemplate.SQSEvent
	for _, ev := range all {
		switch _, ok := l.c.queues[ev.Queue]; {
		case !ev.Enabled:
			l.c.note("%s event %s is disabled in the template: not polled", ev.Function, ev.Event)
		case !ok:
			l.c.note("%s event %s reads a queue outside the stack (%s): not polled", ev.Function, ev.Event, ev.QueueARN)
		default:
			if len(ev.Ignored) > 0 {
				l.c.note("%s event %s: %v not emulated", ev.Function, ev.Event, ev.Ignored)
			}
			if ev.MaximumConcurrency == 0 {
				l.c.note("%s event %s has no MaximumConcurrency: %d batches at once (--sqs-concurrency)", ev.Function, ev.Event, l.o.DefaultConcurrency)
			}
			out = append(out, ev)
		}
	}
	return out, nil
}

// startPollers starts one event source mapping per SQS event.
func (l *local) startPollers(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	l.stopPolls = cancel
	for _, ev := range l.events {
		m := &esm.Mapping{SQS: l.emu.sqs, QueueURL: l.c.refs[ev.Queue], QueueARN: l.c.attrs[ev.Queue+".Arn"],
			BatchSize: ev.BatchSize, Window: ev.BatchingWindow, ReportBatchItemFailures: ev.ReportBatchItemFailures,
			Event: ev.Event, Log: l.log}
		fn := target{pool: l.pools[ev.Function], timeout: l.timeouts[ev.Function]}
		n := l.eventConcurrency(ev)
		l.log.Info("polling", "queue", ev.Queue, "function", ev.Function, "batch_size", ev.BatchSize,
			"batching_window", ev.BatchingWindow, "concurrency", n, "report_batch_item_failures", ev.ReportBatchItemFailures)
		l.pollers.Go(func() {
			_ = m.Run(ctx, n, fn) // its failures are logged as they happen
		})
	}
	return nil
}

// writeOutputs writes the front's URL, the physical ids of the queues and
// tables (by logical id) and the emulators' endpoints as JSON, for scripts
// and tests.
func (l *local) writeOutputs(url string) error {
	if l.o.OutputsFile == "" {
		return nil
	}
	resources := map[string]string{}
	for id := range l.c.queues {
		resources[id] = l.c.refs[id]
	}
	for _, id := range l.c.buckets {
		resources[id] = l.c.refs[id]
	}
	for _, t := range l.d.ResourcesOfType(samtemplate.TableType) {
		if v, ok := l.c.refs[t.ID]; ok {
			resources[t.ID] = v
		}
	}
	b, err := json.MarshalIndent(map[string]any{
		"ApiUrl": url, "Resources": resources,
		"Endpoints": map[string]string{"SQS": l.emu.sqsURL, "DynamoDB": l.emu.ddbURL, "S3": l.emu.s3URL},
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(l.o.OutputsFile, append(b, '\n'), 0o644)
}

// functionTimeout is the function's Timeout, or --function-timeout.
func (l *local) functionTimeout(id string) time.Duration {
	if l.o.FunctionTimeout > 0 {
		return l.o.FunctionTimeout
	}
	fn, ok := l.d.Function(id)
	if !ok {
		return samtemplate.DefaultTimeout
	}
	s, err := fn.Settings(l.r)
	if err != nil {
		return samtemplate.DefaultTimeout
	}
	return s.Timeout
}
