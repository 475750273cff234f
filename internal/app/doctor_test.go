package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/internal/app"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/doctor"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/servetest"
)

// TestNewDoctorProxies checks that the doctor sees every proxy the engine
// may use, under the ids the engine's errors carry: [proxy] as "default",
// MAILPROBE_PROXIES as "url1", "url2", ..., [overrides.proxies] by name, each once.
func TestNewDoctorProxies(t *testing.T) {
	dns := dnstest.Start(t, nil)
	dns.AddMX("doctor.test.", 10, "mx.doctor.test.")
	dns.AddA("mx.doctor.test.", "127.0.0.1")
	port := closedPort(t)
	env := []string{
		"RCH__PROXY__HOST=127.0.0.1", fmt.Sprintf("RCH__PROXY__PORT=%d", port),
		fmt.Sprintf("MAILPROBE_PROXIES=socks5://a:secret-a@127.0.0.1:%d,socks5://127.0.0.1:%d", port, port),
		"RCH__OVERRIDES__PROXIES__EU__HOST=127.0.0.1", fmt.Sprintf("RCH__OVERRIDES__PROXIES__EU__PORT=%d", port),
		"RCH__DNS=" + dns.Addr, "RCH__ALLOW_PRIVATE_MX=true",
	}
	cfg, err := config.Load(config.Options{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	d, err := app.NewDoctor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := d.Run(context.Background(), "doctor.test")
	var ids []string
	for _, p := range r.Proxies {
		ids = append(ids, p.ID)
	}
	if got, want := strings.Join(ids, ","), "default,url1,url2,eu"; got != want {
		t.Errorf("proxies %s, want %s", got, want)
	}
	if got := r.Checks[0].Reason; got != "configuration loaded; 4 proxies: default, url1, url2, eu" {
		t.Errorf("config line %q", got)
	}
	for _, c := range r.Checks {
		if c.Name == doctor.CheckTCP && c.Status != doctor.Fail {
			t.Errorf("tcp to a closed port: %+v", c)
		}
		if strings.Contains(c.Reason+c.Fix, "secret-a") {
			t.Errorf("check leaks a password: %+v", c)
		}
	}
}

func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestServeDoctor: `mailprobe serve` answers GET /v1/doctor with the
// report of its own proxy, authenticated.
func TestServeDoctor(t *testing.T) {
	e := newLocalEnv(t)
	base, stop := servetest.Start(t, e.cfg, nil)
	defer stop()
	code, body := call(t, "GET", base+"/v1/doctor?target=local.test", "")
	var rep doctor.Report
	if err := json.Unmarshal(body, &rep); code != 200 || err != nil {
		t.Fatalf("doctor: %d %s (%v)", code, body, err)
	}
	if len(rep.Proxies) != 1 || rep.Proxies[0].ID != "url1" || rep.Proxies[0].Banner == "" || rep.Target.Host != "mx.local.test" {
		t.Errorf("report %s", body)
	}
	req, _ := http.NewRequest("GET", base+"/v1/doctor", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("without the secret: %d, want 401", resp.StatusCode)
	}
}
