package proxies

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/realsocks"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

var update = flag.Bool("update", false, "rewrite testdata/doctor-*.txt from the doctor's output")

// doctorCase is one setup `mailprobe doctor` is run against.
type doctorCase struct {
	name   string
	proxy  *realsocks.Server
	url    string // the proxy URL given to the doctor
	target string
	mx     *smtptest.Server // nil: the target is never reached
	port   int              // SMTP port, when mx is nil
	code   int              // exit status
}

// TestDoctorRealProxies runs `mailprobe doctor` against real proxies: a
// working dante and microsocks (every check passes), a wrong password, a
// proxy that is down, a dante whose rules refuse the SMTP port, and a dante
// whose host silently drops outbound SMTP. The output, with loopback ports
// normalized, must equal testdata/doctor-<case>.txt and appear in the
// README.
func TestDoctorRealProxies(t *testing.T) {
	w := newWorld(t)
	danteMX, blocked := mail(t, danteExit), mail(t, danteExit)
	// dante runs the README's configuration, which lets CONNECT through to
	// danteMX's port only: blocked's port meets its "socks block" rule.
	ps := proxies(t, realsocks.DanteOptions{Conf: readmeDanteConf(t, danteMX.Port())})
	dante, micro := ps[0], ps[1]
	down := realsocks.StartMicrosocks(t, realsocks.MicrosocksOptions{User: "mailprobe", Pass: "gone", Bind: microsocksExit})
	down.Stop(t)
	ns := realsocks.NewNetns(t)
	dropping := realsocks.StartDante(t, realsocks.DanteOptions{Netns: ns, Conf: readmeDanteConf(t, 25)})
	silent, silentPort := splitTarget(t, realsocks.Silent)
	w.dns.AddMX("dropped.example.org.", 10, "mx.dropped.example.org.")
	w.dns.AddA("mx.dropped.example.org.", silent)

	wrong := *dante
	wrong.Pass = "not-the-password"
	cases := []doctorCase{
		{name: "dante", proxy: dante, url: dante.URL(), target: domain, mx: danteMX},
		{name: "microsocks", proxy: micro, url: micro.URL(), target: domain, mx: mail(t, microsocksExit)},
		{name: "wrong-password", proxy: dante, url: wrong.URL(), target: domain, mx: danteMX, code: 1},
		{name: "proxy-down", proxy: down, url: down.URL(), target: domain, mx: mail(t, microsocksExit), code: 1},
		{name: "port25-blocked", proxy: dante, url: dante.URL(), target: domain, mx: blocked, code: 1},
		{name: "port25-dropped", proxy: dropping, url: dropping.URL(), target: "dropped.example.org", port: silentPort, code: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			port := c.port
			if c.mx != nil {
				port = c.mx.Port()
			}
			args := append(append([]string{"doctor"}, w.flags(port)...), "--proxy", c.url, "--target", c.target)
			code, out, stderr := mailprobe(t, nil, args...)
			if code != c.code {
				t.Errorf("exit %d, want %d; stderr %s\n%s", code, c.code, stderr, out)
			}
			noSecret(t, out+stderr, c.proxy)
			if c.mx != nil && c.mx.Refused() != 0 {
				t.Errorf("the MX refused %d connections that did not come from the proxy", c.mx.Refused())
			}
			got := normalize(out, c, port, w.dns.Addr)
			golden(t, filepath.Join("testdata", "doctor-"+c.name+".txt"), got)
		})
	}
}

// normalize replaces what changes from run to run: loopback ports (the
// proxy's becomes 1080, the MX's 25, the resolver's 53) and dante's
// generated user name.
func normalize(out string, c doctorCase, smtpPort int, dnsAddr string) string {
	r := strings.NewReplacer(
		c.proxy.Addr, "127.0.0.1:1080",
		fmt.Sprintf(":%d ", smtpPort), ":25 ",
		fmt.Sprintf(":%d\n", smtpPort), ":25\n",
		fmt.Sprintf(":%d;", smtpPort), ":25;",
		dnsAddr, "127.0.0.1:53",
	)
	out = r.Replace(out)
	if c.proxy.Name == "dante" && c.proxy.User != "" {
		out = strings.ReplaceAll(out, c.proxy.User, "mailprobe")
	}
	return out
}

// golden compares got with the file, or rewrites it with -update, and
// checks that the README shows it.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended):\n--- got\n%s--- want\n%s", path, got, want)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "\n"+string(want)) {
		t.Errorf("README.md does not show %s verbatim", path)
	}
}
