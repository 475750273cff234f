package inbrowser

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// activeID is the id of the focused element.
func activeID(t *testing.T, tb *tab) string {
	t.Helper()
	return eval[string](t, tb, `document.activeElement ? document.activeElement.id || document.activeElement.className : ''`)
}

// TestOpenServerOnPhone: a server without a secret, on a phone-sized
// screen, used from the keyboard only. The page asks for no secret, a
// check and a pasted list work, and nothing is wider than the screen.
func TestOpenServerOnPhone(t *testing.T) {
	w := newWorld(t, smtptest.Options{Pipelining: true})
	base := w.serve(t, true)
	tb := newTab(t, 390, 844)
	tb.do(t,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2)),
		chromedp.Navigate(base+"/"),
	)
	waitFor(t, tb, `document.getElementById('auth-state').textContent === 'Open server: no secret needed.'`, 10*time.Second)
	if !eval[bool](t, tb, `document.getElementById('secret').hidden`) {
		t.Error("an open server's page asks for a secret")
	}

	// Tab: the skip link, then the address field; Enter submits.
	tb.do(t, chromedp.KeyEvent(kb.Tab))
	if id := activeID(t, tb); id != "skip" {
		t.Errorf("first Tab focuses %q, want the skip link", id)
	}
	tb.do(t, chromedp.KeyEvent(kb.Tab))
	if id := activeID(t, tb); id != "check-email" {
		t.Fatalf("second Tab focuses %q, want #check-email", id)
	}
	tb.do(t, chromedp.KeyEvent("u1@good.test"+kb.Enter))
	waitFor(t, tb, `document.getElementById('check-status').textContent === 'Checked u1@good.test.'`, 30*time.Second)
	if v := eval[string](t, tb, `document.getElementById('check-result').dataset.verdict`); v != "safe" {
		t.Errorf("verdict %q, want safe", v)
	}
	noOverflow(t, tb)
	tb.shot(t, "1-phone-check", "")

	// The skip link jumps to the list; Tab reaches the text box; the
	// addresses are typed; Tab, Tab reaches the button.
	tb.do(t, chromedp.Focus(chromedp.ID("skip")), chromedp.KeyEvent(kb.Enter))
	tb.do(t, chromedp.KeyEvent(kb.Tab))
	if id := activeID(t, tb); id != "list-text" {
		t.Fatalf("Tab after the skip link focuses %q, want #list-text", id)
	}
	tb.do(t, chromedp.KeyEvent("u2@good.test\nnobody@good.test, x@catchall.test"))
	if got := text(t, tb, "list-count"); got != "3 addresses pasted." {
		t.Errorf("count line %q", got)
	}
	tb.do(t, chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Tab))
	if id := activeID(t, tb); id != "list-submit" {
		t.Fatalf("focus on %q, want #list-submit", id)
	}
	tb.do(t, chromedp.KeyEvent(kb.Enter))
	waitFor(t, tb, `document.getElementById('job').dataset.status === 'Completed'`, 30*time.Second)
	waitFor(t, tb, `document.querySelectorAll('#results tbody tr').length === 3`, 10*time.Second)
	if got := text(t, tb, "job-progress-text"); !strings.Contains(got, "3 of 3 checked (100 %)") {
		t.Errorf("progress %q", got)
	}
	noOverflow(t, tb)
	tb.shot(t, "2-phone-list", "")
}

// noOverflow fails when the page scrolls sideways.
func noOverflow(t *testing.T, tb *tab) {
	t.Helper()
	if w := eval[[]int](t, tb, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
		t.Errorf("page is %d px wide on a %d px screen", w[0], w[1])
	}
}
