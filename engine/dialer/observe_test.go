package dialer

import (
	"context"
	"net/netip"
	"sync"
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

// failures records what a FailureFunc hears.
type failures struct {
	mu    sync.Mutex
	ids   []string
	kinds []ProxyErrorKind
}

func (f *failures) record(p Proxy, err *ProxyError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = append(f.ids, p.ID)
	f.kinds = append(f.kinds, err.Kind)
}

// TestRotationReportsHiddenFailures dials through a rotation whose first
// member is down: the failover hides the failure from the caller, the
// FailureFunc still hears of it, with the member's id.
func TestRotationReportsHiddenFailures(t *testing.T) {
	tg := startTarget(t)
	_, ps := startProxies(t, 2, sockstest.Options{User: "u", Pass: secret})
	dead := Proxy{ID: "dead", Host: "127.0.0.1", Port: portOf(t, closedAddr(t))}
	ps[1].ID = "alive"
	var f failures
	r, err := NewRotation([]Proxy{dead, ps[1]}, WithFailureFunc(f.record))
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialOnce(t, r, tg.addr)
	if err != nil {
		t.Fatalf("dial through the rotation: %v", err)
	}
	roundTrip(t, c)
	if len(f.ids) != 1 || f.ids[0] != "dead" || f.kinds[0] != ProxyUnreachable {
		t.Errorf("heard %v %v, want one ProxyUnreachable of dead", f.ids, f.kinds)
	}
}

func TestObserved(t *testing.T) {
	tg := startTarget(t)
	_, ps := startProxies(t, 1, sockstest.Options{User: "u", Pass: "wrong"})
	ps[0].ID, ps[0].Password = "bad-creds", secret
	var f failures
	d := Observed(mustDialer(t, ps[0]), ps[0], f.record)
	if _, err := dialOnce(t, d, tg.addr); kindOf(err) != ProxyAuth {
		t.Fatalf("dial = %v, want ProxyAuth", err)
	}
	// A dial whose caller gave up is not the proxy's failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.DialContext(ctx, "tcp", tg.addr); err == nil {
		t.Fatal("dial with a canceled context succeeded")
	}
	if len(f.ids) != 1 || f.ids[0] != "bad-creds" || f.kinds[0] != ProxyAuth {
		t.Errorf("heard %v %v, want one ProxyAuth of bad-creds", f.ids, f.kinds)
	}
	if raw := mustDialer(t, ps[0]); Observed(raw, ps[0], nil) != raw {
		t.Error("Observed with a nil func wraps")
	}
}

// portOf returns the port of a host:port address.
func portOf(t *testing.T, addr string) int {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return int(ap.Port())
}
