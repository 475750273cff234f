package inbrowser

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// enterSecret answers the secret prompt, from the keyboard.
func enterSecret(t *testing.T, tb *tab, value string) {
	t.Helper()
	waitFor(t, tb, `!document.getElementById('secret').hidden`, 10*time.Second)
	tb.do(t,
		chromedp.SendKeys(chromedp.ID("secret-input"), value+kb.Enter),
	)
	waitFor(t, tb, `document.getElementById('secret').hidden`, 5*time.Second)
}

// check types addr into the single-check form, submits it with Enter and
// waits for its result.
func check(t *testing.T, tb *tab, addr string) {
	t.Helper()
	tb.do(t,
		// Select what the field holds and type over it, as a person would.
		chromedp.Focus(chromedp.ID("check-email")),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent(kb.Backspace),
		chromedp.SendKeys(chromedp.ID("check-email"), addr+kb.Enter),
	)
	waitFor(t, tb, fmt.Sprintf(`document.getElementById('check-status').textContent === %q`, "Checked "+addr+"."), 30*time.Second)
}

// TestSingleCheck checks a good, a bad and a catch-all address from the
// form, each against the test SMTP server, and reads what a person sees:
// the badge (symbol and word), the headline, the facts, the raw JSON.
func TestSingleCheck(t *testing.T) {
	w := newWorld(t, smtptest.Options{Pipelining: true})
	base := w.serve(t, false)
	tb := newTab(t, 1100, 900)
	tb.do(t, chromedp.Navigate(base+"/"))
	tb.shot(t, "0-secret-prompt", "")
	enterSecret(t, tb, secret)

	tests := []struct {
		addr, verdict, badge, headline, fact string
	}{
		{"ann@good.test", "safe", "✓ Safe", "confirmed that this mailbox exists", "mailbox accepted"},
		{"nobody@good.test", "invalid", "✗ Invalid", "said this mailbox does not exist", "mailbox refused"},
		{"whoever@catchall.test", "risky", "! Risky", "accepts every address (catch-all)", "yes: the server accepts any address"},
		{"not an address", "invalid", "✗ Invalid", "Not a valid email address", "not valid"},
	}
	for i, tt := range tests {
		t.Run(tt.verdict, func(t *testing.T) {
			check(t, tb, tt.addr)
			if got := eval[string](t, tb, `document.getElementById('check-result').dataset.verdict`); got != tt.verdict {
				t.Errorf("verdict %q, want %q", got, tt.verdict)
			}
			result := text(t, tb, "check-result")
			for _, want := range []string{tt.badge, tt.headline, tt.fact} {
				if !strings.Contains(result, want) {
					t.Errorf("result lacks %q:\n%s", want, result)
				}
			}
			// The raw JSON is folded away, and is the API's answer.
			if open := eval[bool](t, tb, `document.querySelector('#check-result details').open`); open {
				t.Error("raw JSON shown unfolded")
			}
			var raw struct {
				Input       string `json:"input"`
				IsReachable string `json:"is_reachable"`
			}
			if err := json.Unmarshal([]byte(eval[string](t, tb, `document.querySelector('#check-result pre').textContent`)), &raw); err != nil {
				t.Fatalf("raw JSON: %v", err)
			}
			if raw.Input != tt.addr || raw.IsReachable != tt.verdict {
				t.Errorf("raw JSON %+v", raw)
			}
			tb.shot(t, fmt.Sprintf("%d-check-%s", i+1, tt.verdict), "check")
		})
	}
	// Unfolded with the keyboard: Tab from the address field reaches the
	// button, then the summary; Enter opens it.
	tb.do(t, chromedp.Focus(chromedp.CSS("#check-result summary")), chromedp.KeyEvent(kb.Enter))
	if !eval[bool](t, tb, `document.querySelector('#check-result details').open`) {
		t.Error("Enter on the summary did not unfold the raw JSON")
	}
	tb.shot(t, "5-check-raw-json", "check")
}

// TestWrongSecret: a wrong secret is refused with a clear message and
// asked again; the right one then works. The secret stays in session
// storage: never in the URL or a cookie.
func TestWrongSecret(t *testing.T) {
	w := newWorld(t, smtptest.Options{Pipelining: true})
	base := w.serve(t, false)
	tb := newTab(t, 1100, 900)
	tb.do(t, chromedp.Navigate(base+"/"))
	enterSecret(t, tb, "not-the-secret")
	tb.do(t, chromedp.SendKeys(chromedp.ID("check-email"), "ann@good.test"+kb.Enter))
	waitFor(t, tb, `!document.getElementById('secret-error').hidden`, 10*time.Second)
	msg := text(t, tb, "secret-error")
	for _, want := range []string{"The server refused the secret", "Invalid x-reacher-secret header", "Enter the right secret"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if focused := eval[string](t, tb, `document.activeElement.id`); focused != "secret-input" {
		t.Errorf("focus on #%s, want the secret field", focused)
	}
	tb.shot(t, "wrong-secret", "")

	tb.do(t, chromedp.SendKeys(chromedp.ID("secret-input"), secret+kb.Enter))
	tb.do(t, chromedp.Click(chromedp.ID("check-submit")))
	waitFor(t, tb, `document.getElementById('check-status').textContent === "Checked ann@good.test."`, 30*time.Second)
	if got := eval[string](t, tb, `sessionStorage.getItem('mailprobe.secret')`); got != secret {
		t.Errorf("sessionStorage holds %q", got)
	}
	if c := eval[string](t, tb, `document.cookie`); c != "" {
		t.Errorf("cookies %q", c)
	}
	if u := eval[string](t, tb, `location.href`); strings.Contains(u, secret) {
		t.Errorf("secret in URL %s", u)
	}
	tb.shot(t, "right-secret", "")
}
