package infra

import (
	"strings"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/config"
)

// TestEnvironmentLoads feeds each function's environment, with parameter
// defaults (or samples for the secrets) in place of the Refs, to
// config.Load: every variable the template sets must be one the
// configuration understands.
func TestEnvironmentLoads(t *testing.T) {
	root := openNode(t)
	samples := map[string]string{
		"HeaderSecret":   "ssm:/mailprobe/header-secret",
		"ProxyUrls":      "socks5://user:pass@198.51.100.7:1080",
		"MailprobeTable": "mailprobe-MailprobeTable-ABC",
		"JobQueue":       "https://sqs.us-east-1.amazonaws.com/123456789012/mailprobe-JobQueue-ABC",
		"ExportBucket":   "mailprobe-exportbucket-abc",
	}
	for _, id := range functionIDs {
		t.Run(id, func(t *testing.T) {
			var environ []string
			for _, p := range pairs(must(t, root, "Resources", id, "Properties", "Environment", "Variables")) {
				ref := p[1].Value
				v, ok := samples[ref]
				switch {
				case ok:
				case p[1].Tag == "!Sub" && strings.HasPrefix(ref, "{{resolve:"):
					v = "resolved-by-cloudformation" // a dynamic reference
				default:
					v = must(t, root, "Parameters", ref, "Default").Value
				}
				environ = append(environ, p[0].Value+"="+v)
			}
			c, err := config.Load(config.Options{Environ: environ})
			if err != nil {
				t.Fatalf("config.Load(template environment): %v", err)
			}
			if !c.Storage.AWS() || len(c.ProxyPool) != 1 {
				t.Errorf("storage %+v, proxy pool %d: want AWS mode, 1 proxy", c.Storage, len(c.ProxyPool))
			}
			// Only the API holds the header secret (a reference here).
			if ref := config.IsSecretRef(c.HeaderSecret.Reveal()); ref != (id == "ApiFunction") || id != "ApiFunction" && !c.HeaderSecret.IsZero() {
				t.Errorf("header secret is a reference: %v, set: %v; want a reference for ApiFunction only",
					ref, !c.HeaderSecret.IsZero())
			}
			// Only the worker keys catch-all probes (a job's retries).
			if set := !c.ProbeSecret.IsZero(); set != (id == "SqsWorkerFunction") {
				t.Errorf("probe_secret set: %v; want it on SqsWorkerFunction only", set)
			}
			// Throttle and cache are off by default, as in Reacher.
			if c.SMTPTimeout != 45*time.Second || c.Throttle != (config.Throttle{}) || c.CacheTTL != 0 {
				t.Errorf("parameter defaults not applied: %+v", c)
			}
			if (c.Storage.ExportBucket != "") != (id == "ApiFunction") {
				t.Errorf("export bucket %q: want it for ApiFunction only", c.Storage.ExportBucket)
			}
		})
	}
}
