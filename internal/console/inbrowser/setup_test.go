package inbrowser

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
	"github.com/mailprobe/mailprobe/internal/testenv/servetest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
	"github.com/mailprobe/mailprobe/internal/testenv/sockstest"
)

var docsShot = flag.Bool("docs", false, "write the README's screenshot of the list view mid-job to docs/console-list.png")

const secret = "console-test-secret"

// chromium is the browser binary, found once by TestMain.
var chromium string

func TestMain(m *testing.M) {
	flag.Parse()
	chromium = findChromium()
	if chromium == "" {
		msg := "!!! inbrowser: no Chromium found (chromium, chromium-browser or MAILPROBE_CHROMIUM); " +
			"install Debian's chromium (scripts/apt-deps.sh): the console's browser tests "
		if prereq.CI() {
			fmt.Fprintln(os.Stderr, msg+"FAIL under CI")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, msg+"are SKIPPED")
	}
	os.Exit(m.Run())
}

func findChromium() string {
	if p := os.Getenv("MAILPROBE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// world is the mail side of the tests: a loopback DNS server, a SOCKS5
// proxy with authentication and one SMTP server that is the MX of every
// test domain:
//
//	good.test      mailboxes u<n> (u and digits) and ann exist, every other is unknown (550)
//	catchall.test  every address is accepted (a catch-all domain)
//	nomx.test      no DNS records at all
type world struct {
	dns   *dnstest.Server
	proxy *sockstest.Server
	smtp  *smtptest.Server
}

// newWorld starts the servers; opts may pace the SMTP server (Delay,
// Pipelining), its mailboxes are always those above.
func newWorld(t *testing.T, opts smtptest.Options) *world {
	t.Helper()
	opts.Mailbox = mailbox
	w := &world{
		dns:   dnstest.Start(t, nil),
		proxy: sockstest.Start(t, sockstest.Options{User: "u", Pass: "p"}),
		smtp:  smtptest.Start(t, opts),
	}
	for _, d := range []string{"good.test", "catchall.test"} {
		w.dns.AddMX(d+".", 10, "mx."+d+".")
		w.dns.AddA("mx."+d+".", w.smtp.Host())
	}
	return w
}

// userN is the local part of good.test's numbered mailboxes.
var userN = regexp.MustCompile(`^u[0-9]+$`)

func mailbox(rcpt string) string {
	local, domain, _ := strings.Cut(strings.ToLower(rcpt), "@")
	switch {
	case domain == "catchall.test":
		return smtptest.AcceptReply
	case domain == "good.test" && (local == "ann" || userN.MatchString(local)):
		return smtptest.AcceptReply
	}
	return smtptest.UnknownReply
}

// serve runs `mailprobe serve`'s server against w until the test ends;
// open runs it without a secret.
func (w *world) serve(t *testing.T, open bool) string {
	t.Helper()
	env := []string{
		"MAILPROBE_PROXIES=" + w.proxy.URL(),
		"RCH__SMTP_PORT=" + strconv.Itoa(w.smtp.Port()),
		"RCH__WORKER__RCPTS_PER_MINUTE_PER_MX=0",
		"RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE=0",
		"RCH__THROTTLE__MAX_REQUESTS_PER_DAY=0",
	}
	if !open {
		env = append(env, "RCH__HEADER_SECRET="+secret)
	}
	cfg, err := config.Load(config.Options{Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	cfg.DNS = []string{w.dns.Addr}
	cfg.AllowPrivateMX = true
	cfg.Storage.DataDir = t.TempDir()
	base, _ := servetest.Start(t, cfg, nil)
	return base
}

// apiGet calls the API as a client outside the browser would.
func apiGet(t *testing.T, url string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-reacher-secret", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, b)
	}
	return b
}

// tab is one browser tab of a fresh headless Chromium, with what the
// page reported: uncaught exceptions, console errors and Content Security
// Policy violations.
type tab struct {
	ctx   context.Context
	shots string

	mu       sync.Mutex
	problems []string
}

// newTab starts Chromium with a fresh profile and opens a tab of
// width×height pixels.
func newTab(t *testing.T, width, height int) *tab {
	t.Helper()
	if chromium == "" {
		t.Skip("no Chromium: see the message above")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	tb := &tab{ctx: ctx, shots: shotsDir(t)}
	tb.collect(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return tb
}

// collect records what the page reports into tb.problems. Failed network
// requests (a 401 shows in the console as one) are not problems: the tests
// provoke some.
func (tb *tab) collect(t *testing.T) {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	add := func(s string) {
		tb.mu.Lock()
		tb.problems = append(tb.problems, s)
		tb.mu.Unlock()
	}
	exceptions := chromedp.Events(tb.ctx, runtime.ExceptionThrown)
	consoles := chromedp.Events(tb.ctx, runtime.ConsoleAPICalled)
	entries := chromedp.Events(tb.ctx, log.EntryAdded)
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			add("uncaught exception: " + msg)
		}
	}()
	go func() {
		for ev, err := range consoles {
			if err != nil {
				return
			}
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				add(fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
			}
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			if e := ev.Entry; e != nil && e.Source != log.EntrySourceNetwork &&
				(e.Level == log.EntryLevelError || e.Level == log.EntryLevelWarning) {
				add(fmt.Sprintf("%s %s: %s (%s)", e.Source, e.Level, e.Text, e.URL))
			}
		}
	}()
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("the page reported %s", p)
		}
	})
}

// shotsDir is the folder of the test's screenshots.
func shotsDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("MAILPROBE_SCREENSHOTS")
	if root == "" {
		root = filepath.Join(os.TempDir(), "mailprobe-console-screenshots")
	}
	dir := filepath.Join(root, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots of %s in %s", t.Name(), dir)
	return dir
}

// do runs actions, failing the test on an error.
func (tb *tab) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// waitFor evaluates a JavaScript condition every 50 ms until it is true.
// (chromedp.Poll compiles its predicate with new Function, which the
// page's Content-Security-Policy forbids.)
func waitFor(t *testing.T, tb *tab, cond string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool]("Boolean("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after %v (last error %v)", cond, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text is the text of the element with the given id.
func text(t *testing.T, tb *tab, id string) string {
	t.Helper()
	return eval[string](t, tb, fmt.Sprintf("document.getElementById(%q).textContent", id))
}

// shot writes a screenshot: of the whole page, or of one element's box
// when id is not empty.
func (tb *tab) shot(t *testing.T, name, id string) []byte {
	t.Helper()
	var act chromedp.Action[[]byte]
	if id == "" {
		act = chromedp.FullScreenshot(100)
	} else {
		act = chromedp.Screenshot(chromedp.ID(id))
	}
	png, err := chromedp.Run(tb.ctx, act)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(tb.shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	return png
}
