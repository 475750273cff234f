package smtpprobe

import (
	"bufio"
	"strings"
	"testing"
)

// parse builds a Reply from wire text whose lines are separated by "\n".
func parse(t testing.TB, raw string) *Reply {
	t.Helper()
	r, err := ReadReply(bufio.NewReader(strings.NewReader(strings.ReplaceAll(raw, "\n", "\r\n") + "\r\n")))
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	return r
}

// classifyTests has real-world replies (addresses and IPs changed) and
// the edge of every rule in the table.
var classifyTests = []struct {
	name  string
	reply string
	class Class
	desc  string
}{
	{"plain accept", "250 2.1.5 OK", Deliverable, ""},
	{"gmail accept", "250 2.1.5 OK a1-20020a05600c0001b0 - gsmtp", Deliverable, ""},
	{"exim accept", "250 Accepted", Deliverable, ""},
	{"will forward", "251 2.1.5 User not local; will forward to <b@c.test>", Deliverable, ""},
	{"cannot verify", "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery", Unknown, ""},

	{"gmail no such user", "550-5.1.1 The email account that you tried to reach does not exist. Please try\n" +
		"550-5.1.1 double-checking the recipient's email address for typos or\n" +
		"550-5.1.1 unnecessary spaces. Learn more at\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1 - gsmtp", Invalid, ""},
	{"postfix local", "550 5.1.1 <a@b.test>: Recipient address rejected: User unknown in local recipient table", Invalid, ""},
	{"postfix virtual", "550 5.1.1 <a@b.test>: Recipient address rejected: User unknown in virtual mailbox table", Invalid, ""},
	{"sendmail", "550 5.1.1 <a@b.test>... User unknown", Invalid, ""},
	{"exchange 5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", Invalid, ""},
	{"null MX", "556 5.1.10 Recipient address has null MX", Invalid, ""},
	{"moved", "550 5.1.6 Mailbox has moved, no forwarding address", Invalid, ""},
	{"outlook.com unavailable", "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [DM6NAM.prod.outlook.com]", Invalid, ""},
	{"m365 edge blocking", "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BN8NAM.prod.outlook.com]", Invalid, ""},
	{"yahoo no account", "554 delivery error: dd This user doesn't have a yahoo.com account (a@yahoo.com) [0] - mta1017.mail.gq1.yahoo.com", Invalid, ""},
	{"yahoo 552 not found", "552 1 Requested mail action aborted, mailbox not found", Invalid, ""},
	{"exim unrouteable", "550 Unrouteable address", Invalid, ""},
	{"exim callout", "550-Callout verification failed:\n550 550 No Such User Here", Invalid, ""},
	{"mimecast invalid", "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550 [AbCdEf.uk123]", Invalid, ""},
	{"proofpoint unknown", "550 5.1.1 User Unknown", Invalid, ""},
	{"proofpoint pp", "550 No such user - pp", Invalid, ""},
	{"gmx unavailable", "550 Requested action not taken: mailbox unavailable", Invalid, ""},
	{"5.1.0 with invalid text", "550 5.1.0 Address rejected.", Invalid, ""},
	{"5.1.0 without invalid text", "550 5.1.0 Policy rejection on the target address", Unknown, ""},

	{"gmail disabled", "550-5.2.1 The email account that you tried to reach is disabled. Learn more at\n" +
		"550 5.2.1 https://support.google.com/mail/?p=DisabledUser a1 - gsmtp", Disabled, ""},
	{"hanmail inactive", "550 5.2.1 RACT MY.IP: Mailbox is inactive", Disabled, ""},
	{"yahoo discontinued", "554 delivery error: dd Sorry your message to a@yahoo.com cannot be delivered. " +
		"This account has been disabled or discontinued [#102]. - mta1.mail.bf1.yahoo.com", Disabled, ""},

	{"gmail over quota", "552-5.2.2 The email account that you tried to reach is over quota. Please direct\n" +
		"552 5.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp a1 - gsmtp", FullInbox, ""},
	{"452 4.2.2", "452 4.2.2 Mailbox full", FullInbox, ""},
	{"exchange full", "550 5.2.2 STOREDRV.Deliver; mailbox full", FullInbox, ""},
	{"552 storage", "552 Requested mail action aborted: exceeded storage allocation", FullInbox, ""},
	{"552 bare", "552 Requested mail action aborted", FullInbox, ""},
	{"552 5.2.3", "552 5.2.3 Mailbox would exceed maximum allowed storage", FullInbox, ""},
	{"552 message size", "552 5.3.4 Message size exceeds fixed limit", Unknown, ""},
	{"452 full text", "452 Mailbox is full, try again later", FullInbox, ""},
	{"too many messages", "550 user has too many messages on the server", FullInbox, ""},

	{"outlook 4.5.3", "452 4.5.3 Too many recipients", TooManyRecipients, ""},
	{"452 hourly", "452 Too many recipients received this hour", TooManyRecipients, ""},
	{"552 5.5.3", "552 5.5.3 Too many recipients", TooManyRecipients, ""},

	{"outlook spamhaus", "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. " +
		"To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 AS(1442)", Blocked, DescIPBlacklisted},
	{"outlook banned", "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/", Blocked, DescIPBlacklisted},
	{"outlook block list", "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your " +
		"Internet service provider since part of their network is on our block list (S3150).", Blocked, DescIPBlacklisted},
	{"postfix zen", "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1", Blocked, DescIPBlacklisted},
	{"postfix relay", "554 5.7.1 <a@b.test>: Relay access denied", Blocked, DescIPBlacklisted},
	{"5.7.1 user unknown is policy", "554 5.7.1 <a@b.test>: Recipient address rejected: user unknown", PolicyRejected, DescIPBlacklisted},
	{"gmail unsolicited", "550-5.7.1 [192.0.2.1] Our system has detected that this message is\n550 5.7.1 likely unsolicited mail.", PolicyRejected, DescIPBlacklisted},
	{"starttls required", "530 5.7.0 Must issue a STARTTLS command first", PolicyRejected, DescIPBlacklisted},
	{"5.7.1 policy text", "550 5.7.1 Message rejected due to local policy", PolicyRejected, DescIPBlacklisted},
	{"5.7.1 sender not authorized", "550 5.7.1 Sender not authorized", SenderRejected, ""},
	{"proofpoint blocked", "554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1", Blocked, DescIPBlacklisted},
	{"proofpoint reputation", "550 5.7.0 Mail from 192.0.2.1 refused by Proofpoint Reputation Services", Blocked, DescIPBlacklisted},
	{"mimecast reputation", "550 csi.mimecast.org Poor Reputation Sender. - https://community.mimecast.com/docs/DOC-1369#550 [x.us31]", Blocked, DescIPBlacklisted},
	{"mimecast envelope", "550 Envelope blocked - User Entry - https://community.mimecast.com/docs/DOC-1369#550", SenderRejected, ""},
	{"yahoo spamhaus", "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see http://postmaster.yahoo.com/errors/550-bl23.html", Blocked, DescIPBlacklisted},
	{"gmx block listed", "554-gmx.net (mxgmx117) Nemesis ESMTP Service not available\n554-No SMTP service\n554-IP address is block listed.\n" +
		"554 For explanation visit https://www.gmx.net/mail/senderguidelines?c=bl", Blocked, DescIPBlacklisted},
	{"comcast dnsbl", "554 resimta-h1p-037598.sys.comcast.net 192.0.2.1 found on one or more DNSBLs, see http://postmaster.comcast.net/smtp-error-codes.php#BL000001", Blocked, DescIPBlacklisted},
	{"blocklist beats invalid", "550 Mailbox unavailable or access denied", Blocked, DescIPBlacklisted},
	{"barracuda 4xx", "451 4.7.1 Service unavailable - try again later; client host [192.0.2.1] blocked using b.barracudacentral.org", Blocked, DescIPBlacklisted},

	{"gmail PTR", "550-5.7.25 [192.0.2.1] The IP address sending this message does not have a\n" +
		"550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not\n550 5.7.25 point to the sending IP.", NeedsRDNS, DescNeedsRDNS},
	{"postfix reverse 5xx", "550 5.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]", NeedsRDNS, DescNeedsRDNS},
	{"postfix reverse 4xx", "450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.1]", NeedsRDNS, DescNeedsRDNS},
	{"fsf reverse dns", "450 You dont seem to have a reverse dns entry. Come back later. You are greylisted for 20 minutes.", NeedsRDNS, DescNeedsRDNS},
	{"reverse dns no code", "550 Rejected: no reverse DNS for 192.0.2.1", NeedsRDNS, DescNeedsRDNS},

	{"postgrey", "450 4.2.0 <a@b.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/b.test.html", Greylisted, ""},
	{"exim greylist", "451 4.7.1 Please try again later", Greylisted, ""},
	{"greylisting text", "451 Greylisting in action, please come back later", Greylisted, ""},
	{"outlook busy", "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77719) [x.prod.outlook.com]", RateLimited, ""},
	{"smtptest greylist", "450 4.7.1 greylisted, try again in 60 seconds", Greylisted, ""},
	{"450 retry later", "450 Requested action aborted, try later", Greylisted, ""},

	{"soft bounce is not invalid", "450 4.1.1 <a@b.test>: Recipient address rejected: User unknown in virtual mailbox table", Temporary, ""},
	{"gmail rate", "450-4.2.1 The user you are trying to contact is receiving mail at a rate that\n450 4.2.1 prevents additional messages from being delivered.", RateLimited, ""},
	{"gmail 421", "421-4.7.0 [192.0.2.1] Our system has detected an unusual rate of\n421 4.7.0 unsolicited mail originating from your IP address.", RateLimited, ""},
	{"yahoo deferred", "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1", RateLimited, ""},
	{"mimecast 451", "451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451", Greylisted, ""},
	{"system storage", "452 4.3.1 Insufficient system storage", Temporary, ""},
	{"4.3.0", "451 4.3.0 Mail server temporarily rejected message.", Temporary, ""},

	// About us, not the mailbox (issue 9): never Invalid or FullInbox.
	{"postfix non-fqdn sender", "504 5.5.2 <hello@localhost>: Sender address rejected: need fully-qualified address", SenderRejected, ""},
	{"postfix sender domain", "553 5.1.8 <hello@nowhere.test>: Sender address rejected: Domain not found", SenderRejected, ""},
	{"postfix unverified sender", "450 4.1.7 <hello@x.test>: Sender address rejected: unverified address: host x.test[192.0.2.1] said: 550 5.1.1 User unknown", SenderRejected, ""},
	{"postfix unlisted sender", "553 5.1.0 <hello@x.test>: Sender address rejected: User unknown in virtual mailbox table", SenderRejected, ""},
	{"sender 5.1.1 text", "550 5.1.1 <hello@x.test>: Sender address rejected: User unknown in local recipient table", SenderRejected, ""},
	{"X.1.7 without text", "501 5.1.7 Bad sender address syntax", SenderRejected, ""},
	{"X.1.8 without text", "451 4.1.8 Domain of sender address does not resolve", SenderRejected, ""},
	{"exim sender verify", "550-Verification failed for <hello@localhost>\n550-Unrouteable address\n550 Sender verify failed", SenderRejected, ""},
	{"spf fail", "550 5.7.23 The message was rejected because of Sender Policy Framework violation", SenderRejected, ""},
	{"dmarc", "550 5.7.1 Email rejected per DMARC policy for example.test", SenderRejected, ""},
	{"postfix non-fqdn helo", "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname", HeloRejected, ""},
	{"postfix invalid helo", "501 5.5.2 <bad_name>: Helo command rejected: Invalid name", HeloRejected, ""},
	{"postfix client access", "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied", Blocked, DescIPBlacklisted},
	{"postfix client no code", "550 Client host rejected: too many bad commands", Blocked, DescIPBlacklisted},
	{"anvil connections", "421 4.7.0 mx.b.test Error: too many connections from 192.0.2.1", RateLimited, ""},
	{"anvil messages", "450 4.7.1 Error: too much mail from 192.0.2.1", RateLimited, ""},
	{"anvil recipients", "450 4.7.1 Error: too many recipients from 192.0.2.1", RateLimited, ""},
	{"rate limit quota", "451 4.7.1 Rate limit: quota exceeded, try later", RateLimited, ""},
	{"4.7.x other", "452 4.7.0 Temporary policy rejection", PolicyRejected, ""},
	{"insufficient system storage, no code", "452 Insufficient system storage", Temporary, ""},
	{"quota not the mailbox's", "550 Daily sending quota exceeded", RateLimited, ""},
	{"quota text naming nobody", "550 Quota exceeded", Unknown, ""},
	{"552 5.2.0", "552 5.2.0 Requested mail action aborted", FullInbox, ""},

	{"administrative prohibition", "550 Administrative prohibition", Unknown, ""},
	{"host unknown", "550 5.1.2 Host unknown", Unknown, ""},
	{"bad syntax", "553 5.1.3 The recipient address <a b@c> is not a valid RFC-5321 address", Invalid, ""},
	{"exchange bad syntax", "501 5.1.3 Invalid address", Invalid, ""},
	{"postfix bad syntax", "553 5.1.3 <a@b.test>: Recipient address rejected: bad destination mailbox address syntax", Invalid, ""},
	{"4.1.3 is not invalid", "451 4.1.3 Bad destination mailbox address syntax", Temporary, ""},
	{"transaction failed", "554 Transaction failed", Unknown, ""},
	{"3xx", "354 Start mail input", Unknown, ""},
}

func TestClassify(t *testing.T) {
	for _, tt := range classifyTests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(t, tt.reply)
			class, desc := Classify(r)
			if class != tt.class || desc != tt.desc {
				t.Errorf("Classify(%q) = %v, %q; want %v, %q", tt.reply, class, desc, tt.class, tt.desc)
			}
			checkMechanism(t, r, class)
		})
	}
	t.Run("nil", func(t *testing.T) {
		if class, desc := Classify(nil); class != Unknown || desc != "" {
			t.Errorf("Classify(nil) = %v, %q; want Unknown", class, desc)
		}
	})
}

// TestEveryRuleUsed proves each row of the table decides at least one
// test reply, so no rule is dead or shadowed by an earlier one.
func TestEveryRuleUsed(t *testing.T) {
	used := make([]bool, len(rules))
	for _, tt := range classifyTests {
		if i := ruleFor(parse(t, tt.reply)); i >= 0 {
			used[i] = true
		}
	}
	for i, u := range used {
		if !u {
			t.Errorf("rule %d (%+v) decides no test reply", i, rules[i])
		}
	}
}

func TestClassString(t *testing.T) {
	tests := []struct {
		c    Class
		want string
	}{
		{Unknown, "Unknown"}, {FullInbox, "FullInbox"}, {TooManyRecipients, "TooManyRecipients"}, {Class(99), "Class(99)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.c.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		reply string
		want  string
	}{
		{"450 4.7.1 greylisted, try again in 60 seconds", "1m0s"},
		{"450 4.7.1 retry in 30s", "30s"},
		{"451 Greylisted for 5 min", "5m0s"},
		{"451 4.7.1 Please try again later", "5m0s"},
		{"450 4.2.0 Greylisted, see http://postgrey.schweikert.ch/help/b.test.html", "5m0s"},
		{"451 4.7.1 192.0.2.1 greylisted, retry in 1.5 minutes", "5m0s"},
		{"421 4.7.0 Try again in 2 hours", "1h0m0s"},
		{"450 4.7.1 greylisted, wait 0 seconds", "1s"},
		{"452 4.3.1 Insufficient system storage", "1m0s"},
		{"421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred - 4.16.55.1", "5m0s"},
		{"452 4.5.3 Too many recipients", "1m0s"},
		{"450 Client host rejected: cannot find your reverse hostname, try again in 60 seconds", "1m0s"},
		{"550 5.7.1 Client host rejected: cannot find your reverse hostname", "0s"},
		{"451 4.7.1 Rate limit: quota exceeded, try later", "5m0s"},
		{"552 5.5.3 Too many recipients", "1m0s"},
		{"550 5.1.1 user unknown", "0s"},
		{"250 2.1.5 OK", "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.reply, func(t *testing.T) {
			r := parse(t, tt.reply)
			c, _ := Classify(r)
			if got := RetryAfter(r, c).String(); got != tt.want {
				t.Errorf("RetryAfter(%q) = %s, want %s", tt.reply, got, tt.want)
			}
		})
	}
}
