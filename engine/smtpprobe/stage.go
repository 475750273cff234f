package smtpprobe

// Stage is the step of a conversation a reply answered.
type Stage int

// The stages of Probe, in order.
const (
	StageGreeting Stage = iota + 1
	StageHello
	StageMail
	StageRcpt
)

var stageNames = [...]string{StageGreeting: "greeting", StageHello: "hello", StageMail: "mail from", StageRcpt: "rcpt to"}

// String returns the stage as Probe's errors name it, e.g. "mail from".
func (s Stage) String() string {
	if s > 0 && int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "stage"
}

// StageError reports the stage at which Probe's conversation ended; Err
// holds the *Reply when the server refused it.
type StageError struct {
	Stage Stage
	Err   error
}

func (e *StageError) Error() string { return "smtpprobe: " + e.Stage.String() + ": " + e.Err.Error() }

// Unwrap returns the cause, so errors.As finds the *Reply.
func (e *StageError) Unwrap() error { return e.Err }

// AboutUs reports whether the class is a refusal of the client rather
// than an answer about a mailbox: the sender, the EHLO name, the client's
// IP or reverse DNS, or policy.
func (c Class) AboutUs() bool {
	switch c {
	case SenderRejected, HeloRejected, Blocked, NeedsRDNS, PolicyRejected:
		return true
	}
	return false
}

// Refuses reports whether r, of class c, permanently refuses a recipient
// for the recipient's own reason: no such user, disabled, full, or a 5xx
// the table cannot read but that is neither about us nor a limit. A
// catch-all domain accepts every recipient, so such a refusal of the
// catch-all probe means the domain is not one; OpenSMTPD, for one,
// answers an unknown virtual user "524 5.2.4 Mailing list expansion
// problem".
func Refuses(r *Reply, c Class) bool {
	if r == nil || !r.Permanent() {
		return false
	}
	switch c {
	case Invalid, Disabled, FullInbox, Unknown:
		return true
	}
	return false
}

// ClassifyAt is Classify for a reply that refused stage. Before RCPT no
// mailbox has been named, so a reply the table reads as a mailbox answer,
// or not at all, is about us: the sender at MAIL FROM, the EHLO name at
// HELLO, the client at the greeting (policy). Transient replies stay
// Temporary: they defer, they do not refuse. At StageRcpt (or 0) it is
// Classify.
func ClassifyAt(stage Stage, r *Reply) (Class, string) {
	c, desc := Classify(r)
	if r == nil || stage == 0 || stage >= StageRcpt || c.AboutUs() {
		return c, desc
	}
	switch c {
	case Invalid, Disabled, FullInbox, Unknown, Deliverable:
	default:
		return c, desc
	}
	if r.Temporary() {
		return Temporary, ""
	}
	switch stage {
	case StageHello:
		return HeloRejected, ""
	case StageMail:
		return SenderRejected, ""
	}
	return PolicyRejected, ""
}

// sameRefusal reports whether a and b are the same refusal: the same
// codes and class (the texts differ by the address they quote).
func sameRefusal(a, b *RecipientResult) bool {
	return a.Reply != nil && b.Reply != nil && a.Class == b.Class &&
		a.Reply.Code == b.Reply.Code && a.Reply.Enhanced == b.Reply.Enhanced
}
