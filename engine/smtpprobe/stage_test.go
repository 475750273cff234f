package smtpprobe

import (
	"errors"
	"testing"
)

func TestClassifyAt(t *testing.T) {
	tests := []struct {
		stage Stage
		reply string
		want  Class
	}{
		{StageMail, "550 5.1.0 Address rejected.", SenderRejected},
		{StageMail, "553 5.1.8 <a@nowhere.test>: Sender address rejected: Domain not found", SenderRejected},
		{StageMail, "550 Administrative prohibition", SenderRejected},
		{StageMail, "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org", Blocked},
		{StageMail, "451 4.3.0 Temporary lookup failure", Temporary},
		{StageMail, "452 4.2.2 Mailbox full", Temporary},
		{StageHello, "550 Access denied - Invalid HELO name", HeloRejected},
		{StageHello, "554 5.5.1 Error: no valid recipients", HeloRejected},
		{StageGreeting, "554 No SMTP service here", PolicyRejected},
		{StageGreeting, "421 4.7.0 mx.b.test Error: too many connections from 192.0.2.1", RateLimited},
		{StageRcpt, "550 5.1.1 user unknown", Invalid},
		{0, "550 5.1.1 user unknown", Invalid},
	}
	for _, tt := range tests {
		t.Run(tt.stage.String()+"/"+tt.reply, func(t *testing.T) {
			if got, _ := ClassifyAt(tt.stage, parse(t, tt.reply)); got != tt.want {
				t.Errorf("ClassifyAt(%v, %q) = %v, want %v", tt.stage, tt.reply, got, tt.want)
			}
		})
	}
}

func TestStageErrorUnwrapsTheReply(t *testing.T) {
	r := &Reply{Code: 550, Lines: []string{"no"}}
	err := error(&StageError{Stage: StageMail, Err: r})
	var got *Reply
	if !errors.As(err, &got) || got != r || err.Error() != "smtpprobe: mail from: smtp reply 550 no" {
		t.Errorf("StageError %q does not carry the reply", err)
	}
}

func TestRefuses(t *testing.T) {
	tests := []struct {
		reply string
		want  bool
	}{
		{"550 5.1.1 user unknown", true},
		{"524 5.2.4 Mailing list expansion problem: <x@b.test>", true},
		{"550 5.2.1 mailbox disabled", true},
		{"554 Transaction failed", true},
		{"550 5.7.1 Message rejected due to local policy", false},
		{"504 5.5.2 <hello@localhost>: Sender address rejected: need fully-qualified address", false},
		{"552 5.5.3 Too many recipients", false},
		{"550 Daily sending quota exceeded", false},
		{"450 4.1.1 user unknown", false},
		{"250 2.1.5 OK", false},
	}
	for _, tt := range tests {
		t.Run(tt.reply, func(t *testing.T) {
			r := parse(t, tt.reply)
			c, _ := Classify(r)
			if got := Refuses(r, c); got != tt.want {
				t.Errorf("Refuses(%q) = %v, want %v", tt.reply, got, tt.want)
			}
		})
	}
}
