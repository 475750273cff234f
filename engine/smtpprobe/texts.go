package smtpprobe

// wordList names one list of lower-case substrings. anyText, the zero
// value, is the absence of a text condition.
type wordList uint8

const (
	anyText wordList = iota
	tooManyWords
	rateWords
	dbebWords
	rdnsWords
	heloWords
	senderWords
	blocklistWords
	greylistWords
	retryLaterWords
	disabledWords
	quotaWords
	mailboxWords
	invalidWords
	numWordLists
)

// wordLists holds the substrings, pre-converted to bytes so matching does
// not allocate. Most come from Reacher's parser (core/src/smtp/parser.rs);
// the comments quote the replies that motivate them. Never modified.
var wordLists = [numWordLists][][]byte{
	tooManyWords: words(
		"too many recipients", // 452 4.5.3 Too many recipients (Outlook)
		"multiple regions",    // Microsoft: recipients belong to multiple regions
	),
	// Limits on what we send: anvil's "421 4.7.0 Error: too many
	// connections from <ip>", "450 4.7.1 Error: too much mail from <ip>",
	// "450 4.7.1 Error: too many recipients from <ip>"; Gmail's "unusual
	// rate"; Yahoo's "temporarily deferred due to unexpected volume";
	// Outlook's "4.7.500 Server busy".
	rateWords: words(
		"rate limit", "ratelimit", "rate-limit", "rate exceeded", "too many connections",
		"too many concurrent", "too many simultaneous", "connection limit", "too much mail",
		"too many messages from", "too many recipients from", "unusual rate", "at a rate",
		"sending rate", "message rate", "unexpected volume", "temporarily deferred",
		"throttl", "server busy", "too fast", "sending quota", "too quickly",
		"excessive volume",                // iCloud: deferred due to excessive volume
		"excessive unknown recipients",    // Yahoo: deprioritized
		"limits for how many", "per hour", // Outlook.com RP-001
	),
	dbebWords: words(
		"recipient address rejected", // 550 5.4.1 Recipient address rejected: Access denied
	),
	rdnsWords: words(
		"reverse dns", // You dont seem to have a reverse dns entry
		"reverse-dns",
		"reverse hostname",          // Client host rejected: cannot find your reverse hostname
		"cannot find your hostname", // 450 4.7.25 Client host rejected: cannot find your hostname
		"ptr record",                // 550 5.7.25 ... does not have a PTR record setup (Gmail)
		"rdns", "reverse lookup",
	),
	// Postfix: "504 5.5.2 <localhost>: Helo command rejected: need
	// fully-qualified hostname" (reject_non_fqdn_helo_hostname).
	heloWords: words(
		"helo command rejected", "ehlo command rejected", "helo rejected", "ehlo rejected",
		"invalid helo", "bad helo", "helo hostname", "helo name", "ehlo hostname", "ehlo name",
	),
	// The sender, at MAIL FROM or (Postfix's smtpd_delay_reject) at RCPT:
	// "504 5.5.2 <hello@localhost>: Sender address rejected: need
	// fully-qualified address", "553 5.1.8 <a@b>: Sender address
	// rejected: Domain not found", Exim's "Sender verify failed", and the
	// sender domain's authentication (SPF, DMARC).
	senderWords: words(
		"sender address rejected", "sender rejected", "sender verify failed",
		"sender verification failed", "sender address verification", "sender domain",
		"domain of sender", "sender's domain", "sender not authorized", "sender is not authorized",
		"sender denied", "envelope sender", "reverse-path", "reverse path",
		"spf", "sender policy framework", "dmarc", "unauthenticated",
		"envelope blocked", "envelope from", // Mimecast's blocked-senders policies
		"spoof", // Mimecast's anti-spoofing policy, Barracuda's "rejecting spoofed message"
	),
	blocklistWords: words(
		"blacklist", "black list", "blocklist", "block list", "block-list",
		"denylist", "deny list",
		"spamhaus", "spamcop", "abusix", "dnsbl", "spam",
		"blocked",                 // Blocked - see https://ipcheck.proofpoint.com/
		"banned",                  // 5.7.606 Access denied, banned sending IP
		"access denied",           // Client host rejected: Access denied
		"administratively denied", // mail from your location is administratively denied
		"relaying denied", "relay not permitted",
		"not yet authorized",    // x is not yet authorized to deliver mail from
		"connection rejected",   // Connection rejected by policy (Symantec)
		"poor reputation",       // Mimecast Poor Reputation Sender
		"junkmail",              // JunkMail rejected ... is in an RBL (Barracuda)
		"refused by proofpoint", // Mail from x refused by Proofpoint Reputation Services
		"sbrs score too low",    // Cisco IronPort
		"client host rejected",  // Postfix: a restriction on our IP or host name
		"client host blocked",
		"ip reputation",       // Mimecast: Local CT IP Reputation - (reject)
		"network not allowed", // Mimecast: Host network not allowed (geography)
	),
	greylistWords: words(
		"greylist", "graylist", "grey list", "gray list", "grey-list", "gray-list",
		// Mimecast's greylisting reply (451, no enhanced code)
		"internal resources are temporarily unavailable", "internal resource temporarily unavailable",
	),
	retryLaterWords: words(
		"try again later", "try later", "retry later", "please retry", "come back later",
	),
	disabledWords: words(
		"disabled",     // 554 The email account that you tried to reach is disabled
		"discontinued", // This account has been disabled or discontinued
		"inactive",     // 550 5.2.1 Mailbox is inactive (hanmail)
	),
	// A full inbox needs a quota word and a word naming the mailbox: "452
	// Mailbox is full", "550 user has too many messages on the server".
	// "quota exceeded" alone may be ours (a rate quota).
	quotaWords: words(
		"quota", "is full", "mailbox full", "inbox full", "storage", "too many messages",
		"insufficient", // Reacher counts "insufficient storage" as full
		"no space", "out of space", "size limit",
	),
	mailboxWords: words(
		"mailbox", "mail box", "inbox", "user", "account", "recipient", "addressee",
	),
	invalidWords: words(
		"address rejected", "unrouteable", "unroutable", "does not exist",
		"doesn't exist", "dosn't exist", "may not exist",
		"invalid address", "invalid email address", "invalid recipient",
		"recipient invalid", "recipient rejected", "unknown recipient",
		"recipient unknown", "undeliverable", "user unknown", "unknown user",
		"no such user", "no such mailbox", "no such recipient", "no such person",
		"mailbox not found", "invalid mailbox", "no mailbox", "mailbox unavailable",
		"mailbox is unavailable", "not a valid mailbox", "have an account",
		"doesn't have a", "doesn’t have a", // Yahoo: This user doesn't have a yahoo.com account
		"unknown local part", "no longer available", "could not be found",
		"address error", "address is not handled", "recipient is not exist",
		"recipient not found", "user not found",
	),
}

func words(ws ...string) [][]byte {
	out := make([][]byte, len(ws))
	for i, w := range ws {
		out[i] = []byte(w)
	}
	return out
}
