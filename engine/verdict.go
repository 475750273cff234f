package engine

// Verdict computes is_reachable from the steps of a result, following
// Reacher's rule with one deliberate difference: a definitive "this mailbox
// does not exist" (or is disabled) from the mail server wins over the role,
// disposable and catch-all flags, which only make an existing mailbox risky.
// Reacher would call admin@example.com risky even when the server rejects it
// with 550 5.1.1; mailprobe calls it invalid. And an accepted mailbox of a
// domain whose catch-all probe went unanswered is risky, never safe: its
// acceptance may mean nothing.
func Verdict(r *Result) Reachability {
	switch {
	case !r.Syntax.IsValidSyntax:
		return Invalid
	case r.MX.Err != nil:
		return Unknown
	case !r.MX.Value.AcceptsMail:
		return Invalid
	case r.SMTP.Err != nil:
		return Unknown
	}
	s := r.SMTP.Value
	if !s.CanConnectSMTP {
		return Unknown
	}
	if s.IsDisabled || (!s.IsDeliverable && !s.HasFullInbox) {
		return Invalid
	}
	m := r.Misc.Value
	if s.IsCatchAll || catchAllUnanswered(r) || s.HasFullInbox || (r.Misc.Err == nil && (m.IsDisposable || m.IsRoleAccount)) {
		return Risky
	}
	return Safe
}

// catchAllUnanswered reports an accepted mailbox whose domain's catch-all
// probe got no definite answer.
func catchAllUnanswered(r *Result) bool {
	return r.Debug.Mailprobe != nil && r.Debug.Mailprobe.CatchAll == CatchAllUnanswered
}
