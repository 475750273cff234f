package misc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultHIBPURL is the Have I Been Pwned API's base URL.
const DefaultHIBPURL = "https://haveibeenpwned.com"

// HIBP asks Have I Been Pwned whether an address appears in a known
// breach (API v3, which needs a key). It fills Reacher's
// misc.haveibeenpwned, which stays null when no key is configured.
type HIBP struct {
	client *http.Client
	base   string
	key    string
}

// NewHIBP returns a client; key must not be empty.
func NewHIBP(client *http.Client, base, key string) *HIBP {
	if client == nil {
		client = http.DefaultClient
	}
	return &HIBP{client: client, base: strings.TrimSuffix(base, "/"), key: key}
}

// Breached reports whether email appears in a breach.
func (h *HIBP) Breached(ctx context.Context, email string) (bool, error) {
	u := h.base + "/api/v3/breachedaccount/" + url.PathEscape(strings.TrimSpace(email)) + "?truncateResponse=true"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, fmt.Errorf("haveibeenpwned: %w", err)
	}
	req.Header.Set("hibp-api-key", h.key)
	req.Header.Set("user-agent", "mailprobe")
	resp, err := h.client.Do(req)
	if err != nil {
		// The URL holds the address, not the key: safe to wrap.
		return false, fmt.Errorf("haveibeenpwned: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("haveibeenpwned: unexpected status %d", resp.StatusCode)
}
