package engine

import "testing"

func TestVerdict(t *testing.T) {
	valid := Syntax{IsValidSyntax: true}
	mxOK := OK(MX{AcceptsMail: true, Records: []string{"mx.example.com."}})
	deliverable := OK(SMTP{CanConnectSMTP: true, IsDeliverable: true})
	tests := []struct {
		name string
		r    Result
		want Reachability
	}{
		{"invalid syntax", Result{}, Invalid},
		{"dns failure", Result{Syntax: valid, MX: Failed[MX](&StepError{Type: "ResolveError"})}, Unknown},
		{"no mx", Result{Syntax: valid, MX: OK(MX{Records: []string{}})}, Invalid},
		{"smtp error", Result{Syntax: valid, MX: mxOK, SMTP: Failed[SMTP](&StepError{Type: "Timeout"})}, Unknown},
		{"blocked", Result{Syntax: valid, MX: mxOK, SMTP: Failed[SMTP](&StepError{Type: "Blocked", Description: "IpBlacklisted"})}, Unknown},
		{"cannot connect", Result{Syntax: valid, MX: mxOK, SMTP: OK(SMTP{})}, Unknown},
		{"safe", Result{Syntax: valid, MX: mxOK, SMTP: deliverable}, Safe},
		{"not deliverable", Result{Syntax: valid, MX: mxOK, SMTP: OK(SMTP{CanConnectSMTP: true})}, Invalid},
		{"disabled", Result{Syntax: valid, MX: mxOK, SMTP: OK(SMTP{CanConnectSMTP: true, IsDisabled: true})}, Invalid},
		{"full inbox", Result{Syntax: valid, MX: mxOK, SMTP: OK(SMTP{CanConnectSMTP: true, HasFullInbox: true})}, Risky},
		{"catch-all", Result{Syntax: valid, MX: mxOK, SMTP: OK(SMTP{CanConnectSMTP: true, IsDeliverable: true, IsCatchAll: true})}, Risky},
		{"role account deliverable", Result{Syntax: valid, MX: mxOK, SMTP: deliverable, Misc: OK(Misc{IsRoleAccount: true})}, Risky},
		{"disposable deliverable", Result{Syntax: valid, MX: mxOK, SMTP: deliverable, Misc: OK(Misc{IsDisposable: true})}, Risky},
		// mailprobe's deliberate difference from Reacher: a definitive
		// rejection wins over the role and disposable flags.
		{"role account rejected", Result{Syntax: valid, MX: mxOK, SMTP: OK(SMTP{CanConnectSMTP: true}), Misc: OK(Misc{IsRoleAccount: true})}, Invalid},
		{"disposable rejected", Result{Syntax: valid, MX: mxOK, SMTP: OK(SMTP{CanConnectSMTP: true}), Misc: OK(Misc{IsDisposable: true})}, Invalid},
		{"role account disabled", Result{Syntax: valid, MX: mxOK, SMTP: OK(SMTP{CanConnectSMTP: true, IsDisabled: true}), Misc: OK(Misc{IsRoleAccount: true})}, Invalid},
		{"role account, smtp unknown", Result{Syntax: valid, MX: mxOK, SMTP: Failed[SMTP](&StepError{Type: "Timeout"}), Misc: OK(Misc{IsRoleAccount: true})}, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verdict(&tt.r); got != tt.want {
				t.Errorf("Verdict() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDetectProvider(t *testing.T) {
	tests := []struct {
		mx   string
		want Provider
	}{
		{"gmail-smtp-in.l.google.com.", Gmail},
		{"ASPMX.L.GOOGLE.COM", Gmail},
		{"hotmail-com.olc.protection.outlook.com.", HotmailB2C},
		{"contoso-com.mail.protection.outlook.com.", HotmailB2B},
		{"mta5.am0.yahoodns.net.", Yahoo},
		{"eu-smtp-inbound-1.mimecast.com.", Mimecast},
		{"mx0a-001234.pphosted.com.", Proofpoint},
		{"mx.example.com.", Other},
		{"google.com.evil.test.", Other},
	}
	for _, tt := range tests {
		if got := DetectProvider(tt.mx); got != tt.want {
			t.Errorf("DetectProvider(%q) = %q, want %q", tt.mx, got, tt.want)
		}
	}
}
