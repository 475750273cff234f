package infra

import (
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/config"
)

// TestEnvironmentLoads feeds each function's environment, as the template
// computes it with samconfig.toml's deploy parameters and references for
// the secrets, to config.Load: every variable the template sets must be
// one the configuration understands, and the references must be left for
// the cold start to resolve.
func TestEnvironmentLoads(t *testing.T) {
	d, r := deployment(t, nil)
	envs, err := d.Environments(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range functionIDs {
		t.Run(id, func(t *testing.T) {
			var environ []string
			for k, v := range envs[id] {
				environ = append(environ, k+"="+v)
			}
			c, err := config.Load(config.Options{Environ: environ})
			if err != nil {
				t.Fatalf("config.Load(template environment): %v", err)
			}
			if !c.Storage.AWS() {
				t.Errorf("storage %+v: want AWS mode", c.Storage)
			}
			want := []string{"proxy_urls[0]"}
			if id == "ApiFunction" {
				// Only the API holds the header secret.
				want = []string{"header_secret", "proxy_urls[0]"}
			}
			// Only the worker keys catch-all probes (a job's retries).
			if set := !c.ProbeSecret.IsZero(); set != (id == "SqsWorkerFunction") {
				t.Errorf("probe_secret set: %v; want it on SqsWorkerFunction only", set)
			}
			if got := c.SecretRefs(); !equal(got, want) {
				t.Errorf("secret references %v, want %v", got, want)
			}
			// Throttle and cache are off by default, as in Reacher.
			if c.SMTPTimeout != 45*time.Second || c.Throttle != (config.Throttle{}) || c.CacheTTL != 0 {
				t.Errorf("samconfig's parameters not applied: %+v", c)
			}
			if (c.Storage.ExportBucket != "") != (id == "ApiFunction") {
				t.Errorf("export bucket %q: want it for ApiFunction only", c.Storage.ExportBucket)
			}
		})
	}
}
