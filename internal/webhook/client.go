package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/mailprobe/mailprobe/internal/clock"
)

// Defaults of Options.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultAttempts   = 3
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// maxDrain bounds how much of a response body is read so the connection
// can be reused; the body itself is of no interest.
const maxDrain = 64 << 10

// Options configure a Client. Zero values take the defaults above.
type Options struct {
	Timeout    time.Duration // per attempt
	Attempts   int           // total tries, including the first
	Backoff    time.Duration // wait before the second try; doubles after
	MaxBackoff time.Duration // cap on one wait, also on a server's Retry-After
	UserAgent  string

	// CheckAddr vets every IP address the client connects to, after DNS
	// resolution, so a webhook URL cannot reach the machine's own network
	// (SSRF). Pass dialer.CheckAddr in production; nil allows every
	// address (tests on 127.0.0.1).
	CheckAddr func(netip.Addr) error

	// Transport replaces the HTTP transport (tests). When set, CheckAddr
	// is the transport's business.
	Transport http.RoundTripper

	// Sleep waits between tries; nil uses a timer bounded by ctx. Tests
	// inject one to avoid real waits.
	Sleep func(ctx context.Context, d time.Duration) error
}

// StatusError is a non-2xx answer from the receiver.
type StatusError struct {
	Code       int
	RetryAfter time.Duration // from a Retry-After header in seconds, if any
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("webhook: receiver answered %d %s", e.Code, http.StatusText(e.Code))
}

// Temporary reports answers worth another try: 408, 425, 429 and 5xx.
// Other 4xx say the request itself is wrong and will stay wrong.
func (e *StatusError) Temporary() bool {
	switch {
	case e.Code == http.StatusRequestTimeout, e.Code == http.StatusTooEarly,
		e.Code == http.StatusTooManyRequests, e.Code >= 500:
		return true
	}
	return false
}

// Client posts results to webhooks. It is safe for concurrent use.
type Client struct {
	opts Options
	http *http.Client
}

// New builds a Client.
func New(opts Options) *Client {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "mailprobe-webhook/1"
	}
	if opts.Sleep == nil {
		opts.Sleep = clock.Sleep
	}
	rt := opts.Transport
	if rt == nil {
		rt = guardedTransport(opts.CheckAddr)
	}
	return &Client{opts: opts, http: &http.Client{
		Transport: rt,
		// A redirect would turn the POST into a GET without the result and
		// could point anywhere: report it as the receiver's answer instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// guardedTransport dials with a Control hook that sees the resolved IP
// address of every connection, so neither DNS tricks nor a redirect can
// reach a private address. Environment proxies are not used: the check
// would then vet the proxy, not the receiver.
func guardedTransport(check func(netip.Addr) error) *http.Transport {
	d := &net.Dialer{Timeout: DefaultTimeout}
	if check != nil {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook: unexpected dial address: %w", err)
			}
			return check(ap.Addr())
		}
	}
	return &http.Transport{
		DialContext:         d.DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: DefaultTimeout,
	}
}

// payload is Reacher's WebhookOutput: extra is null when the job gave none.
type payload struct {
	Result json.RawMessage `json:"result"`
	Extra  json.RawMessage `json:"extra"`
}

// Post sends one result, trying again with exponential backoff on network
// errors and temporary answers. It gives up early when ctx ends, so a
// slow receiver cannot hold the worker past its deadline.
func (c *Client) Post(ctx context.Context, t Target, result json.RawMessage) error {
	if err := t.validate(); err != nil {
		return err
	}
	extra := t.Extra
	if len(extra) == 0 {
		extra = json.RawMessage("null")
	}
	body, err := json.Marshal(payload{Result: result, Extra: extra})
	if err != nil {
		return fmt.Errorf("webhook: encode body: %w", err)
	}
	wait := c.opts.Backoff
	for attempt := 1; ; attempt++ {
		err = c.post(ctx, t, body)
		var se *StatusError
		permanent := errors.As(err, &se) && !se.Temporary()
		if err == nil || permanent || attempt >= c.opts.Attempts || ctx.Err() != nil {
			if err != nil {
				return fmt.Errorf("webhook: %d attempt(s): %w", attempt, err)
			}
			return nil
		}
		d := wait
		if se != nil && se.RetryAfter > d {
			d = se.RetryAfter
		}
		if err := c.opts.Sleep(ctx, min(d, c.opts.MaxBackoff)); err != nil {
			return fmt.Errorf("webhook: gave up waiting to retry: %w", err)
		}
		wait *= 2
	}
}

// post makes one attempt. Errors never quote the URL: url.Error would,
// with any token in its query string.
func (c *Client) post(ctx context.Context, t Target, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: cannot build request", ErrBadTarget)
	}
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post to %s: %w", redact(t.URL), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return &StatusError{Code: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
}

// retryAfter reads the delta-seconds form of Retry-After (RFC 9110
// §10.2.3); the HTTP-date form is rare for webhooks and ignored.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}
