package smtpprobe

import "context"

// RcptPipelined asks about several recipients in the current transaction.
// When the server advertised PIPELINING it writes every RCPT in one go and
// then reads the replies in order (RFC 2920 §3.1: RCPT may appear anywhere
// in a group, and replies come back in command order); otherwise it sends
// them one at a time.
//
// Unlike Rcpt, a negative reply to one recipient is not an error: the
// replies, one per recipient in order, say what the server thinks of each.
// The error is non-nil only when the session cannot continue (transport or
// protocol failure, ctx done, or 421); the replies read before that are
// still returned, so the caller knows which recipients were answered. If any
// address is refused by the argument checks, nothing is sent.
//
// Keep groups moderate (tens of recipients): the client writes the whole
// group before reading, and RFC 5321 §4.5.3.1.8 only promises buffer space
// for 100 recipients.
func (c *Client) RcptPipelined(ctx context.Context, tos []string) ([]*Reply, error) {
	lines := make([]string, len(tos))
	for i, to := range tos {
		l, err := c.rcptLine(to)
		if err != nil {
			return nil, err
		}
		lines[i] = l
	}
	if _, ok := c.Extension("PIPELINING"); !ok || len(lines) < 2 {
		return c.rcptEach(ctx, lines)
	}
	if err := c.usable(ctx, "RCPT"); err != nil {
		return nil, err
	}
	stop := c.watch(ctx)
	defer stop()
	timeout := c.opts.CommandTimeout
	ctxBound := c.setDeadline(ctx, timeout)
	c.rcpt += len(lines)
	for _, l := range lines {
		_, _ = c.bw.WriteString(l)
		_, _ = c.bw.WriteString("\r\n")
	}
	if err := c.bw.Flush(); err != nil {
		return nil, c.fail(ctx, "RCPT", timeout, ctxBound, err)
	}
	replies := make([]*Reply, 0, len(lines))
	for range lines {
		// Each reply gets its own timeout: servers may pause before
		// every RCPT answer, and a group of them must not share one.
		r, err := c.read(ctx, "RCPT", timeout, c.setDeadline(ctx, timeout))
		if r == nil {
			return replies, err
		}
		replies = append(replies, r)
		if r.closing() {
			return replies, r
		}
	}
	return replies, nil
}

func (c *Client) rcptEach(ctx context.Context, lines []string) ([]*Reply, error) {
	replies := make([]*Reply, 0, len(lines))
	for _, l := range lines {
		r, err := c.cmd(ctx, "RCPT", c.opts.CommandTimeout, l)
		if r == nil {
			return replies, err
		}
		replies = append(replies, r)
		if r.closing() {
			return replies, r
		}
	}
	return replies, nil
}
