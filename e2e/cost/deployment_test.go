package cost

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
)

// deployment is what infra/template.yaml deploys with its default
// parameters, read from the template itself so that the measurement
// follows it: the functions' memory, timeout and environment, the event
// source mapping and the queue.
type deployment struct {
	workerMB, apiMB   int
	workerTimeout     time.Duration
	workerEnv, apiEnv []string // KEY=VALUE, the settings the template gives
	batchSize         int
	batchingWindow    time.Duration
	instances         int // the event source's MaximumConcurrency
	visibility        time.Duration
	maxReceiveCount   int
}

// readDeployment evaluates the template with its defaults. The values
// that depend on the stack (names, URLs, secrets) are placeholders the
// harness replaces.
func readDeployment(t *testing.T) deployment {
	t.Helper()
	root, err := prereq.Root()
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Open(filepath.Join(root, "infra", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vals, missing, err := tpl.ParameterValues(map[string]string{"HeaderSecret": secret, "ProxyUrls": "socks5://placeholder:1"})
	if err != nil || len(missing) > 0 {
		t.Fatalf("template parameters: %v (missing %v)", err, missing)
	}
	r := tpl.Resolver(samtemplate.Stack{Params: vals,
		Refs:  map[string]string{"MailprobeTable": "table", "JobQueue": "queue", "DeadLetterQueue": "dlq", "ProbeSecret": "probe", "ExportBucket": "exports"},
		Attrs: map[string]string{"JobQueue.Arn": "arn:jobs", "DeadLetterQueue.Arn": "arn:dlq", "JobQueue.QueueName": "jobs", "ExportBucket.Arn": "arn:exports"}})
	var d deployment
	for id, dst := range map[string]struct {
		mb  *int
		env *[]string
	}{"SqsWorkerFunction": {&d.workerMB, &d.workerEnv}, "ApiFunction": {&d.apiMB, &d.apiEnv}} {
		f, ok := tpl.Function(id)
		if !ok {
			t.Fatalf("no function %s in the template", id)
		}
		st, err := f.Settings(r)
		if err != nil {
			t.Fatal(err)
		}
		*dst.mb = st.MemorySize
		if id == "SqsWorkerFunction" {
			d.workerTimeout = st.Timeout
		}
		env, err := f.Environment(r)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range env {
			if strings.HasPrefix(k, "RCH__") && !strings.HasSuffix(k, "_SECRET") {
				*dst.env = append(*dst.env, k+"="+v)
			}
		}
	}
	evs, err := tpl.SQSEvents(r)
	if err != nil || len(evs) != 1 {
		t.Fatalf("SQS events %+v, %v; want the worker's one", evs, err)
	}
	d.batchSize, d.batchingWindow, d.instances = evs[0].BatchSize, evs[0].BatchingWindow, evs[0].MaximumConcurrency
	q, err := tpl.Queue(evs[0].Queue, r)
	if err != nil {
		t.Fatal(err)
	}
	d.visibility, d.maxReceiveCount = q.VisibilityTimeout, q.MaxReceiveCount
	return d
}
