package samtemplate

import (
	"slices"
	"testing"
)

// The project's own template and samconfig.toml: whatever they declare,
// every function's environment, event and queue must resolve, so that
// lambda-local and the `sam local invoke` environment file keep working as
// the template changes.
const (
	repoTemplate  = "../../infra/template.yaml"
	repoSamconfig = "../../samconfig.toml"
)

func repoStack(t *testing.T, d *Deployment) *Resolver {
	t.Helper()
	params := map[string]string{}
	for k, v := range d.Params {
		params[k] = v
	}
	for _, p := range d.Parameters() {
		if slices.Contains(d.Missing, p.Name) {
			if !p.NoEcho {
				t.Errorf("parameter %s has no default and samconfig.toml gives none, but it is not a secret", p.Name)
			}
			params[p.Name] = "socks5://sample:sample@127.0.0.1:1080" // satisfies ProxyUrls' pattern and any MinLength
		}
	}
	refs, attrs := map[string]string{}, map[string]string{}
	for _, r := range d.Resources() {
		refs[r.ID] = "ref-" + r.ID
	}
	for _, a := range d.AttributesUsed() {
		attrs[a] = "attr-" + a
	}
	return d.Resolver(Stack{Params: params, Refs: refs, Attrs: attrs})
}

func TestRepoTemplate(t *testing.T) {
	for _, command := range []string{"deploy", "local_invoke"} {
		t.Run(command, func(t *testing.T) {
			d, err := Load(Source{Template: repoTemplate, Samconfig: repoSamconfig, Command: command})
			if err != nil {
				t.Fatal(err)
			}
			c, err := OpenSamconfig(repoSamconfig)
			if err != nil {
				t.Fatal(err)
			}
			ov, err := c.Overrides("default", command)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range ov {
				if d.Params[k] != v {
					t.Errorf("parameter %s = %q, want samconfig's %q", k, d.Params[k], v)
				}
			}
			r := repoStack(t, d)
			envs, err := d.Environments(r)
			if err != nil {
				t.Fatal(err)
			}
			if len(envs) == 0 {
				t.Fatal("no function")
			}
			for id, env := range envs {
				if len(env) == 0 {
					t.Errorf("%s has an empty environment", id)
				}
				fn, _ := d.Function(id)
				if _, err := fn.Settings(r); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestRepoEventsAndQueues(t *testing.T) {
	d, err := Load(Source{Template: repoTemplate, Samconfig: repoSamconfig, Command: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	r := repoStack(t, d)
	routes, err := d.Routes(r)
	if err != nil || len(routes) == 0 {
		t.Fatalf("routes %v, %v", routes, err)
	}
	evs, err := d.SQSEvents(r)
	if err != nil || len(evs) == 0 {
		t.Fatalf("SQS events %v, %v", evs, err)
	}
	for _, ev := range evs {
		q, err := d.Queue(ev.Queue, r)
		if err != nil {
			t.Fatal(err)
		}
		if q.DeadLetterQueue == "" || q.MaxReceiveCount < 1 {
			t.Errorf("queue %s: dead-letter queue %q after %d receives", q.ID, q.DeadLetterQueue, q.MaxReceiveCount)
		}
		if _, err := d.Queue(q.DeadLetterQueue, r); err != nil {
			t.Error(err)
		}
		if ev.BatchSize < 1 {
			t.Errorf("%s: batch size %d", ev.Event, ev.BatchSize)
		}
	}
	for _, tb := range d.ResourcesOfType(TableType) {
		tab, err := d.Table(tb.ID, r)
		if err != nil {
			t.Fatal(err)
		}
		if len(tab.KeySchema) == 0 {
			t.Errorf("table %s has no key schema", tab.ID)
		}
	}
}
