package smtpprobe

import (
	"bytes"
	"strconv"
)

// Class is what a reply says about a mailbox, or about us.
type Class int

// The classes. Unknown is the zero value: a reply the table cannot read
// with confidence is never turned into a verdict.
const (
	Unknown           Class = iota
	Deliverable             // the server accepts mail for the mailbox
	Invalid                 // the mailbox does not exist
	FullInbox               // the mailbox exists but is over quota
	Disabled                // the mailbox exists but is disabled
	Blocked                 // policy refusal of us (RFC 3463 X.7.x, blocklists)
	NeedsRDNS               // a Blocked kind: our IP lacks reverse DNS
	Greylisted              // come back in a few minutes (see RetryAfter)
	Temporary               // other transient failure (see RetryAfter)
	TooManyRecipients       // the transaction holds no more recipients
	SenderRejected          // our MAIL FROM is refused (X.1.7, X.1.8, SPF, DMARC)
	HeloRejected            // our EHLO name is refused
	PolicyRejected          // another refusal of us by policy (X.7.x)
	RateLimited             // we send too much: connections, messages, recipients
)

var classNames = [...]string{
	Unknown: "Unknown", Deliverable: "Deliverable", Invalid: "Invalid",
	FullInbox: "FullInbox", Disabled: "Disabled", Blocked: "Blocked",
	NeedsRDNS: "NeedsRDNS", Greylisted: "Greylisted", Temporary: "Temporary",
	TooManyRecipients: "TooManyRecipients", SenderRejected: "SenderRejected",
	HeloRejected: "HeloRejected", PolicyRejected: "PolicyRejected", RateLimited: "RateLimited",
}

// String returns the class name, e.g. "FullInbox".
func (c Class) String() string {
	if c >= 0 && int(c) < len(classNames) {
		return classNames[c]
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Descriptions returned by Classify: the only two "description" values
// of Reacher's smtp error object, so clients that deserialize it into an
// enum know every one.
const (
	DescIPBlacklisted = "IpBlacklisted"
	DescNeedsRDNS     = "NeedsRDNS"
)

// Classify reads a reply to RCPT (or to any command that refused us) and
// returns its class and, for refusals of us, a description. It walks the
// rules table top-down; the first match wins. A nil reply is Unknown.
// Classify does not allocate for replies up to 512 bytes of text.
func Classify(r *Reply) (Class, string) {
	if i := ruleFor(r); i >= 0 {
		return rules[i].class, rules[i].desc
	}
	return Unknown, ""
}

// ruleFor returns the index of the first rule matching r, or -1.
func ruleFor(r *Reply) int {
	if r == nil {
		return -1
	}
	var buf [512]byte
	t := textMatch{b: lowerText(buf[:0], r)}
	for i := range rules {
		if rules[i].matches(r, &t) {
			return i
		}
	}
	return -1
}

// rules is the classification table, read top-down, first match wins. It
// is never modified. It decides first what a reply is about, then what it
// says:
//
//  1. the transaction: too many recipients (RFC 3463 X.5.3);
//  2. us, not the mailbox: the sender (X.1.7, X.1.8, "Sender address
//     rejected", SPF, DMARC), the EHLO name, the client's reverse DNS and
//     IP, rate limits, greylisting, policy (X.7.x). Such a reply is never a
//     verdict on the mailbox, whatever mailbox code or words it carries too:
//     Postfix answers "504 5.5.2 <hello@localhost>: Sender address
//     rejected: need fully-qualified address" to every RCPT when it refuses
//     the sender, and a server refusing a sender it cannot find may say
//     5.1.1;
//  3. the mailbox: RFC 3463 enhanced codes, then Reacher's phrases
//     (texts.go).
//
// Decisions worth knowing:
//   - 252 ("cannot verify, but will accept", RFC 5321 §3.5.3) promises
//     nothing about the mailbox, so it is Unknown, not Deliverable.
//   - X.7.x is policy (RFC 3463 §3.8), described as IpBlacklisted
//     (NeedsRDNS for reverse-DNS texts): Reacher has no other description.
//   - A 4xx is never Invalid or Disabled: a transient reply says nothing
//     final (Postfix sends "450 4.1.1 User unknown" in soft-bounce mode).
//     Every 4xx is worth asking again (RetryAfter).
//   - FullInbox comes only from X.2.2, 552 (RFC 5321 §4.2.3 "exceeded
//     storage allocation") or a quota text that names the mailbox: "451
//     4.7.1 Rate limit: quota exceeded" is our quota, not the mailbox's.
//   - X.1.3 is a bad destination mailbox address syntax (RFC 3463 §3.2):
//     no mailbox can have that address there, so it is Invalid.
//   - Exchange Online answers a recipient missing from the directory with
//     "550 5.4.1 Recipient address rejected: Access denied" (directory
//     based edge blocking); that is Invalid, not a block of us.
//   - A 5xx nothing recognises is Unknown, not Invalid: a wrong "invalid"
//     loses a real customer, a wrong "unknown" only costs a retry.
var rules = [...]rule{
	{code: exact(252), class: Unknown},
	{code: class(2), class: Deliverable},

	// 1. The transaction. RFC 5321 §4.5.3.1.10 notes that older servers
	// used 552 for X.5.3, so it precedes the full-inbox rules; anvil's
	// "too many recipients from <ip>" is a rate (step 2), not this.
	{code: negative, enh: enh("*.5.3"), class: TooManyRecipients},
	{code: negative, text: rateWords, class: RateLimited},
	{code: negative, text: tooManyWords, class: TooManyRecipients},

	// 2. Us, not the mailbox. Exchange's directory-based edge blocking
	// says "Access denied" about the recipient, so it goes first.
	{code: class(5), enh: enh("5.4.1"), text: dbebWords, class: Invalid},
	{code: negative, enh: enh("*.1.7"), class: SenderRejected}, // bad sender mailbox address syntax
	{code: negative, enh: enh("*.1.8"), class: SenderRejected}, // bad sender's system address
	{code: negative, text: rdnsWords, class: NeedsRDNS, desc: DescNeedsRDNS},
	{code: negative, text: heloWords, class: HeloRejected},
	{code: negative, text: senderWords, class: SenderRejected},
	{code: class(4), text: greylistWords, class: Greylisted},
	{code: negative, text: blocklistWords, class: Blocked, desc: DescIPBlacklisted},
	{code: class(5), enh: enh("5.7.*"), class: PolicyRejected, desc: DescIPBlacklisted},
	{code: between(450, 451), enh: enh("4.7.*"), class: Greylisted},
	{code: class(4), enh: enh("4.7.*"), class: PolicyRejected},

	// 3. The mailbox.
	{code: class(5), enh: enh("5.1.1"), class: Invalid},  // bad destination mailbox
	{code: class(5), enh: enh("5.1.3"), class: Invalid},  // bad destination mailbox address syntax
	{code: class(5), enh: enh("5.1.10"), class: Invalid}, // null MX, RFC 7505 §4.2
	{code: class(5), enh: enh("5.1.6"), class: Invalid},  // moved, no forwarding address
	{code: class(5), enh: enh("5.1.0"), text: invalidWords, class: Invalid},
	{code: class(5), enh: enh("5.2.1"), class: Disabled},
	{code: negative, enh: enh("*.2.2"), class: FullInbox}, // 552 5.2.2, 452 4.2.2

	{code: class(4), enh: mailboxOrNone, text: quotaWords, also: mailboxWords, class: FullInbox},
	{code: between(450, 451), text: retryLaterWords, class: Greylisted},
	{code: class(4), class: Temporary},

	{code: class(5), text: disabledWords, class: Disabled},
	{code: class(5), enh: mailboxOrNone, text: quotaWords, also: mailboxWords, class: FullInbox},
	{code: class(5), text: invalidWords, class: Invalid},
	// RFC 5321 §4.2.3: 552 is "exceeded storage allocation", unless an
	// enhanced code says it is about something else.
	{code: exact(552), enh: enh("none"), class: FullInbox},
	{code: exact(552), enh: enh("5.2.*"), class: FullInbox},
	{code: class(5), class: Unknown},
}

// mailboxOrNone matches a reply without an enhanced code or with a
// mailbox status one (X.2.x, RFC 3463 §3.3): a quota text under X.3.x
// ("452 4.3.1 Insufficient system storage") is the server's own disk.
var mailboxOrNone = enhPattern{set: true, none: true, class: -1, subject: 2, detail: -1}

// rule is one row of the table. A zero enh, text or also matches
// anything; text and also must both match.
type rule struct {
	code       codeRange
	enh        enhPattern
	text, also wordList
	class      Class
	desc       string
}

func (ru *rule) matches(r *Reply, t *textMatch) bool {
	return r.Code >= ru.code.lo && r.Code <= ru.code.hi && ru.enh.matches(r.Enhanced) &&
		t.has(ru.text) && t.has(ru.also)
}

// codeRange is an inclusive range of reply codes.
type codeRange struct{ lo, hi int }

var negative = codeRange{400, 599}

func exact(c int) codeRange        { return codeRange{c, c} }
func class(d int) codeRange        { return codeRange{d * 100, d*100 + 99} }
func between(lo, hi int) codeRange { return codeRange{lo, hi} }

// enhPattern matches an enhanced code; -1 is a wildcard.
type enhPattern struct {
	set  bool // false: matches any code, present or not
	none bool // matches an absent code (and, with a subject, that code too)
	// class, subject, detail: the code to match; a zero subject with
	// none set means "no code" alone.
	class, subject, detail int
}

// enh parses "5.7.*", "*.2.2", "5.1.1" or "none". It runs only while the
// table is built and panics on a malformed pattern, which the tests catch.
func enh(p string) enhPattern {
	if p == "none" {
		return enhPattern{set: true, none: true}
	}
	e := enhPattern{set: true}
	parts := [3]*int{&e.class, &e.subject, &e.detail}
	for i, f := range bytes.Split([]byte(p), []byte(".")) {
		if i >= len(parts) {
			panic("smtpprobe: bad enhanced code pattern " + p)
		}
		if string(f) == "*" {
			*parts[i] = -1
			continue
		}
		n, err := strconv.Atoi(string(f))
		if err != nil {
			panic("smtpprobe: bad enhanced code pattern " + p)
		}
		*parts[i] = n
	}
	return e
}

func (p enhPattern) matches(e EnhancedCode) bool {
	switch {
	case !p.set:
		return true
	case e.IsZero():
		return p.none
	case p.none && p.subject == 0:
		return false // "none" alone
	}
	return (p.class < 0 || p.class == e.Class) &&
		(p.subject < 0 || p.subject == e.Subject) &&
		(p.detail < 0 || p.detail == e.Detail)
}

// textMatch answers "does the text contain a word of list l", scanning
// each list at most once per reply however many rules ask.
type textMatch struct {
	b         []byte
	done, hit uint32
}

func (t *textMatch) has(l wordList) bool {
	if l == anyText {
		return true
	}
	bit := uint32(1) << l
	if t.done&bit == 0 {
		t.done |= bit
		for _, w := range wordLists[l] {
			if bytes.Contains(t.b, w) {
				t.hit |= bit
				break
			}
		}
	}
	return t.hit&bit != 0
}

// lowerText appends the reply text, lines joined by spaces, lower-cased
// (ASCII only: every word in the lists is ASCII).
func lowerText(dst []byte, r *Reply) []byte {
	for i, l := range r.Lines {
		if i > 0 {
			dst = append(dst, ' ')
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
	}
	return dst
}
