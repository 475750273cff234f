package engine

import (
	"context"

	"github.com/mailprobe/mailprobe/engine/address"
)

// localMisc fills the misc fields that come from lists in memory.
func (v *Verifier) localMisc(a address.Address) Misc {
	return Misc{
		IsDisposable:  v.cfg.Misc.IsDisposable(a.Domain),
		IsRoleAccount: v.cfg.Misc.IsRoleAccount(a.Username),
		IsB2C:         v.cfg.Misc.IsFree(a.Domain),
	}
}

// remoteMisc is what the HTTP lookups of misc found; nil when a lookup
// was not made or failed (Reacher then reports null).
type remoteMisc struct {
	pwned       *bool
	gravatarURL *string
}

// fill sets the fields of m that r holds.
func (r remoteMisc) fill(m *Misc) {
	m.HaveIBeenPwned, m.GravatarURL = r.pwned, r.gravatarURL
}

// wantsLookups reports whether req needs an HTTP lookup: HIBP when it is
// configured, Gravatar when the request asks for it.
func (v *Verifier) wantsLookups(req Request) bool {
	return v.cfg.HIBP != nil || (req.CheckGravatar && v.cfg.Gravatar != nil)
}

// lookups asks HIBP (when configured) and Gravatar (when asked and
// configured) about a, one after the other: VerifyBatch runs many of
// these at once, and keeping one call per lookup in flight makes
// maxMiscLookups bound the calls to both services together.
func (v *Verifier) lookups(ctx context.Context, a address.Address, gravatar bool) remoteMisc {
	var r remoteMisc
	if v.cfg.HIBP != nil {
		r.pwned = v.breached(ctx, a)
	}
	if gravatar && v.cfg.Gravatar != nil {
		r.gravatarURL = v.gravatar(ctx, a)
	}
	return r
}

// breached asks HIBP about a; nil when the lookup failed.
func (v *Verifier) breached(ctx context.Context, a address.Address) *bool {
	pwned, err := v.cfg.HIBP.Breached(ctx, a.Address)
	if err != nil {
		return nil
	}
	return &pwned
}

// gravatar asks Gravatar for a's image; nil when it has none or the
// lookup failed.
func (v *Verifier) gravatar(ctx context.Context, a address.Address) *string {
	url, ok, err := v.cfg.Gravatar.Lookup(ctx, a.Address)
	if err != nil || !ok {
		return nil
	}
	return &url
}
