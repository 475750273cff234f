package misc

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DefaultGravatarURL is Gravatar's public base URL.
const DefaultGravatarURL = "https://www.gravatar.com"

// Gravatar looks up the Gravatar image of an address, as Reacher's
// check_gravatar does: the image URL is keyed by the MD5 of the trimmed,
// lower-cased address, and `d=404` makes Gravatar answer 404 when there is
// no image instead of serving a default one.
type Gravatar struct {
	client *http.Client
	base   string
}

// NewGravatar returns a Gravatar client; base is DefaultGravatarURL in
// production and a loopback test server in tests.
func NewGravatar(client *http.Client, base string) *Gravatar {
	if client == nil {
		client = http.DefaultClient
	}
	return &Gravatar{client: client, base: strings.TrimSuffix(base, "/")}
}

// Lookup returns the image URL and true when the address has a Gravatar.
func (g *Gravatar) Lookup(ctx context.Context, email string) (string, bool, error) {
	// MD5 is Gravatar's identifier scheme, not a security measure.
	sum := md5.Sum([]byte(strings.ToLower(strings.TrimSpace(email))))
	url := g.base + "/avatar/" + hex.EncodeToString(sum[:])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"?d=404", nil)
	if err != nil {
		return "", false, fmt.Errorf("gravatar: %w", err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return "", false, fmt.Errorf("gravatar: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusOK:
		return url, true, nil
	case http.StatusNotFound:
		return "", false, nil
	}
	return "", false, fmt.Errorf("gravatar: unexpected status %d", resp.StatusCode)
}
