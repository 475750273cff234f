package smtpprobe

// wordList names one list of lower-case substrings. anyText, the zero
// value, is the absence of a text condition.
type wordList uint8

const (
	anyText wordList = iota
	tooManyWords
	dbebWords
	rdnsWords
	blocklistWords
	greylistWords
	retryLaterWords
	disabledWords
	fullInboxWords
	fullInboxStrictWords
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
	),
	greylistWords: words(
		"greylist", "graylist", "grey list", "gray list", "grey-list", "gray-list",
	),
	retryLaterWords: words(
		"try again later", "try later", "retry later", "please retry", "come back later",
	),
	disabledWords: words(
		"disabled",     // 554 The email account that you tried to reach is disabled
		"discontinued", // This account has been disabled or discontinued
		"inactive",     // 550 5.2.1 Mailbox is inactive (hanmail)
	),
	fullInboxWords: words(
		"insufficient", // Reacher counts "insufficient storage" as full
		"mailbox full", "mailbox is full", "quota exceeded", "quote exceeded",
		"over quota", "overquota", "too many messages", "out of storage space",
		"exceeded storage allocation",
	),
	// On a 4xx, "insufficient" usually means the server's own disk
	// (452 4.3.1 Insufficient system storage), not the mailbox.
	fullInboxStrictWords: words(
		"mailbox full", "mailbox is full", "quota exceeded", "over quota", "overquota",
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
