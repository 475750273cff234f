package dialer

import (
	"context"
	"errors"
	"net"
	"time"
)

// classify turns a failed x/net/proxy dial into a *ProxyError, using what
// the recorder saw instead of the error's text. The proxy's bytes arrive
// in a fixed order (RFC 1928 §3 method selection, RFC 1929 §2 status when
// username/password was chosen, RFC 1928 §6 reply), so the length and
// content of the transcript tell the stage and the code.
func (d *socks5Dialer) classify(ctx context.Context, rec *recorder, err error) *ProxyError {
	e := &ProxyError{ProxyID: d.p.ID, Proxy: d.label, Stage: StageDial, Err: err}
	if rec.conn == nil {
		e.Kind = waitKind(ctx, err, ProxyUnreachable)
		return e.withCtx(ctx)
	}
	r := rec.conn.in[:rec.conn.nin]

	e.Stage = StageGreeting
	if len(r) < 2 {
		// A proxy that accepts TCP and hangs up without a word is as
		// good as down (a dead backend behind a load balancer).
		fallback := ProxyUnreachable
		if len(r) == 1 {
			fallback = ProxyProtocol
		}
		e.Kind = waitKind(ctx, err, fallback)
		return e.withCtx(ctx)
	}
	if r[0] != socksVersion {
		e.Kind = ProxyProtocol
		return e
	}
	off := 2
	switch r[1] {
	case methodNone:
	case methodNoAccept:
		e.Kind, e.Reply = ProxyAuth, r[1]
		return e
	case methodUserPass:
		if d.auth == nil {
			// We offered only "no authentication"; x/net would go on to
			// send CONNECT, which the proxy reads as credentials.
			e.Kind = ProxyAuth
			return e
		}
		e.Stage = StageAuth
		if len(r) < 4 {
			// RFC 1929 §2: on failure the server sends a status, then
			// closes; closing without one is not SOCKS.
			e.Kind = waitKind(ctx, err, ProxyProtocol)
			return e.withCtx(ctx)
		}
		if r[2] != authVersion {
			e.Kind = ProxyProtocol
			return e
		}
		if r[3] != 0 {
			e.Kind, e.Reply = ProxyAuth, r[3]
			return e
		}
		off = 4
	default:
		// A method we did not offer (RFC 1928 §3 forbids that).
		e.Kind = ProxyProtocol
		return e
	}
	return d.classifyReply(ctx, e, r[off:], err)
}

// classifyReply handles the RFC 1928 §6 reply, r being the bytes after
// the negotiation.
func (d *socks5Dialer) classifyReply(ctx context.Context, e *ProxyError, r []byte, err error) *ProxyError {
	e.Stage = StageConnect
	if len(r) < 2 {
		// The proxy took our CONNECT and hung up (or we are still
		// waiting when the deadline strikes).
		e.Kind = waitKind(ctx, err, ProxyFailure)
		return e.withCtx(ctx)
	}
	if r[0] != socksVersion {
		e.Kind = ProxyProtocol
		return e
	}
	e.Reply = r[1]
	switch r[1] {
	case 0x00:
		// Success code, yet the rest of the reply was unusable.
		e.Reply = 0
		e.Kind = waitKind(ctx, err, ProxyProtocol)
		return e.withCtx(ctx)
	case 0x02:
		e.Kind = NotAllowed
	case 0x03, 0x04:
		e.Kind = TargetUnreachable
	case 0x05:
		e.Kind = TargetRefused
	case 0x06:
		e.Kind = TTLExpired
	default:
		// 0x01 general failure, 0x07/0x08 unsupported command or
		// address type, and unassigned codes.
		e.Kind = ProxyFailure
	}
	return e
}

// waitKind returns Timeout or Canceled when err comes from a deadline or
// cancellation, else fallback. Called only where a read or dial was
// interrupted, so a reply the proxy did send always wins.
func waitKind(ctx context.Context, err error, fallback ProxyErrorKind) ProxyErrorKind {
	switch ctxErr(ctx) {
	case context.Canceled:
		return Canceled
	case context.DeadlineExceeded:
		return Timeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	return fallback
}

// withCtx makes Timeout and Canceled errors unwrap to the context's error:
// x/net reports an expired context as the connection's "i/o timeout".
func (e *ProxyError) withCtx(ctx context.Context) *ProxyError {
	if cerr := ctxErr(ctx); cerr != nil && (e.Kind == Timeout || e.Kind == Canceled) && !errors.Is(e.Err, cerr) {
		e.Err = cerr
	}
	return e
}

// ctxErr is ctx.Err(), except that a deadline already past counts as
// expired: x/net/proxy puts the context's deadline on the connection, and
// the read can fail a moment before the context's own timer fires.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}
