package smtpprobe

import "testing"

// Public sources of the replies in providerTests. The replies are the
// providers' own wording as published there (line breaks as the servers
// send them); addresses and IPs are replaced by documentation values.
const (
	srcGmail       = "https://support.google.com/a/answer/3726730"
	srcM365NDR     = "https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/non-delivery-reports-in-exchange-online"
	srcM365DBEB    = "https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/fix-error-code-550-5-4-1-in-exchange-online"
	srcM365Resolv  = "https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/fix-error-code-550-5-1-10-in-exchange-online"
	srcM365Banned  = "https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/fix-error-code-550-5-7-606-649-in-exchange-online"
	srcM365Busy    = "https://learn.microsoft.com/en-us/troubleshoot/exchange/email-delivery/ndr/fix-error-code-451-4-7-500-699-asxxx-in-exchange-online"
	srcEOP         = "https://smtp.codes/exchangeonline"
	srcOutlookCom  = "https://sendersupport.olc.protection.outlook.com/pm/troubleshooting.aspx"
	srcReturnPath  = "https://help.returnpath.com/hc/en-us/articles/220565487-Block-bounce-code-examples"
	srcYahoo       = "https://senders.yahooinc.com/smtp-error-codes/"
	srcYahooHelp   = "https://help.yahoo.com/kb/mail-for-desktop/SLN3444.html"
	srcYahooCodes  = "https://smtp.codes/yahoo"
	srcICloud      = "https://smtp.codes/icloud"
	srcMimecast    = "https://community.mimecast.com/s/article/Mimecast-SMTP-Error-Codes-842605754"
	srcProofpoint  = "https://help.proofpoint.com/Proofpoint_Essentials/Email_Security/Administrator_Topics/040_usersandgroups/User_email_address_is_%22marked_as_invalid%22"
	srcPPBlocked   = "https://www.suped.com/email-deliverability/answers/how-to-get-proofpoint-to-unblock-my-ip-address"
	srcBarracuda   = "https://smtp.codes/550"
	srcBarracudaRB = "http://tig.csail.mit.edu/wiki/TIG/EmailBlockedByBarracuda"
)

// providerTests guards the classification table with replies large
// providers publish. What it checks is the mechanism of issue 9: a reply
// about the sender, the client, HELO, policy or rates is never a verdict on
// the mailbox (Invalid, Disabled, FullInbox), and a full inbox is only
// X.2.2, 552 or a quota text naming the mailbox.
var providerTests = []struct {
	provider, source string
	reply            string
	class            Class
}{
	{"gmail", srcGmail, "550-5.1.1 The email account that you tried to reach does not exist. Please try\n" +
		"550-5.1.1 double-checking the recipient's email address for typos or\n" +
		"550-5.1.1 unnecessary spaces. For more information, go to\n550 5.1.1  https://support.google.com/mail/?p=NoSuchUser", Invalid},
	{"gmail", srcGmail, "550-5.2.1 The email account that you tried to reach is disabled.\n550 5.2.1 https://support.google.com/mail/?p=DisabledUser", Disabled},
	{"gmail", srcGmail, "452-4.2.2 The email account that you tried to reach is over quota. Please direct\n" +
		"452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp", FullInbox},
	{"gmail", srcGmail, "552-5.2.2 The email account that you tried to reach is over quota. Please direct\n" +
		"552 5.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaPerm", FullInbox},
	{"gmail", srcGmail, "450-4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend\n" +
		"450 4.2.1 your message at a later time.", RateLimited},
	{"gmail", srcGmail, "450-4.2.1 The user you are trying to contact is receiving mail at a rate that\n" +
		"450 4.2.1 prevents additional messages from being delivered.", RateLimited},
	{"gmail", srcGmail, "421-4.7.0 [192.0.2.1] Our system has detected an unusual rate of\n421-4.7.0 unsolicited mail originating from your IP address. To protect our\n" +
		"421-4.7.0 users from spam, mail sent from your IP address has been temporarily\n421 4.7.0 blocked.", RateLimited},
	{"gmail", srcGmail, "421 4.7.0 IP not in whitelist for RCPT domain, closing connection.", PolicyRejected},
	{"gmail", srcGmail, "421 4.7.0 TLS required for RCPT domain, closing connection.", PolicyRejected},
	{"gmail", srcGmail, "452 4.5.3 Your message has too many recipients.", TooManyRecipients},
	{"gmail", srcGmail, "550-5.7.26 This mail has been blocked because the sender is unauthenticated.\n" +
		"550 5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.", SenderRejected},
	{"gmail", srcGmail, "550 5.7.26 Unauthenticated email from example.test is not accepted due to domain's DMARC policy.", SenderRejected},
	{"gmail", srcGmail, "550-5.7.25 [192.0.2.1] The IP address sending this message does not have a\n" +
		"550-5.7.25 PTR record setup, or the corresponding forward DNS entry does not\n550 5.7.25 point to the sending IP.", NeedsRDNS},
	{"gmail", srcGmail, "550-5.7.1 [192.0.2.1] Our system has detected that this message is\n550 5.7.1 likely unsolicited mail.", PolicyRejected},
	{"gmail", srcGmail, "550 5.7.1 The user or domain that you are sending to (or from) has a policy that prohibited the mail that you sent.", PolicyRejected},
	{"gmail", srcGmail, "553 5.1.2 We weren't able to find the recipient domain.", Unknown},

	{"office365", srcM365Resolv, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", Invalid},
	{"office365", srcM365DBEB, "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", Invalid},
	{"office365", srcM365Banned, "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/", Blocked},
	{"office365", srcM365Busy, "451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (AS77719)", RateLimited},
	{"office365", srcM365NDR, "550 5.7.23 The message was rejected because of Sender Policy Framework violation", SenderRejected},
	{"office365", srcEOP, "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 (AS16012611)", Blocked},
	{"office365", srcEOP, "550 5.7.1 Service unavailable, Helo domain is listed in Spamhaus. (S8001)", Blocked},
	{"office365", srcEOP, "421 4.3.2 The maximum number of concurrent connections per resource forest has exceeded a limit, closing transmission channel.", Temporary},
	{"outlook.com", srcOutlookCom, "451 4.7.650 The mail server [192.0.2.1] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775)", RateLimited},
	{"outlook.com", srcOutlookCom, "421 RP-001 (BAY004-MC1F20) Unfortunately, some messages from 192.0.2.1 weren't sent. Please try again. " +
		"We have limits for how many messages can be sent per hour and per day.", RateLimited},
	{"outlook.com", srcReturnPath, "550 SC-001 (BAY004-MC4F3) Unfortunately, messages from IP 192.0.2.1 weren't sent. Please contact your " +
		"Internet service provider since part of their network is on our block list.", Blocked},

	{"yahoo", srcYahoo, "554 delivery error: dd This user doesn't have a yahoo.com account (a@yahoo.com) [-5] - mta123.mail.mud.yahoo.com", Invalid},
	{"yahoo", srcYahooCodes, "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes", RateLimited},
	{"yahoo", srcYahooCodes, "450 User is receiving mail too quickly", RateLimited},
	{"yahoo", srcYahooHelp, "451 VS1-IP Excessive unknown recipients - possible Open Relay (#4.1.8)", RateLimited},
	{"yahoo", srcYahooHelp, "421 Resources temporarily unavailable. Please try again later", Temporary},
	{"yahoo", srcReturnPath, "554 Message not allowed - [PH01] Email not accepted for policy reasons.", Unknown},

	{"icloud", srcICloud, "550 5.1.1 <a@icloud.com>: user does not exist", Invalid},
	{"icloud", srcICloud, "550 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137", PolicyRejected},
	{"icloud", srcICloud, "550 5.7.1 Your message was rejected due to example.test DMARC policy.", SenderRejected},
	{"icloud", srcICloud, "421 4.7.1 Messages to a@icloud.com deferred due to excessive volume. Try again later - https://support.apple.com/en-us/HT204137", RateLimited},
	{"icloud", srcICloud, "451 4.7.1 Service unavailable - try again later", Greylisted},

	{"mimecast", srcMimecast, "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550", Invalid},
	{"mimecast", srcMimecast, "451 Internal resources are temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451", Greylisted},
	{"mimecast", srcMimecast, "421 Sender address blocked - https://community.mimecast.com/docs/DOC-1369#421", Blocked},
	{"mimecast", srcMimecast, "451 IP temporarily blacklisted - https://community.mimecast.com/docs/DOC-1369#451", Blocked},
	{"mimecast", srcMimecast, "550 Local CT IP Reputation - (reject) - https://community.mimecast.com/docs/DOC-1369#550", Blocked},
	{"mimecast", srcMimecast, "554 Host network not allowed - https://community.mimecast.com/docs/DOC-1369#554", Blocked},
	{"mimecast", srcMimecast, "550 SPF Sender Invalid - envelope rejected - https://community.mimecast.com/docs/DOC-1369#550", SenderRejected},
	{"mimecast", srcMimecast, "550 DMARC Sender Invalid - envelope rejected - https://community.mimecast.com/docs/DOC-1369#550", SenderRejected},
	{"mimecast", srcMimecast, "550 Administrative prohibition envelope blocked - https://community.mimecast.com/docs/DOC-1369#550", SenderRejected},
	{"mimecast", srcMimecast, "550 Rejected by header-based Anti-Spoofing policy - https://community.mimecast.com/docs/DOC-1369#550", SenderRejected},
	{"mimecast", srcMimecast, "452 Too many recipients - https://community.mimecast.com/docs/DOC-1369#452", TooManyRecipients},

	// Proofpoint Essentials refuses an address its SMTP Discovery marked
	// invalid with 5.7.1: policy, so unknown, never invalid.
	{"proofpoint", srcProofpoint, "550 5.7.1 Recipient address rejected: User email address is marked as invalid", PolicyRejected},
	{"proofpoint", srcProofpoint, "550 5.7.1 Sender address rejected: User email address is marked as invalid", SenderRejected},
	{"proofpoint", srcPPBlocked, "554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1", Blocked},

	{"barracuda", srcBarracuda, "550 cuda_nsu 5.1.1 <a@b.test> Recipient address rejected: User unknown", Invalid},
	{"barracuda", srcBarracuda, "550 No such user (a@b.test)", Invalid},
	{"barracuda", srcBarracuda, "550 Blocked", Blocked},
	{"barracuda", srcBarracuda, "550 rejecting spoofed message", SenderRejected},
	{"barracuda", srcBarracudaRB, "554 Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation; http://bbl.barracudacentral.com/q.cgi?ip=192.0.2.1", Blocked},
}

func TestProviderReplies(t *testing.T) {
	for _, tt := range providerTests {
		t.Run(tt.provider+"/"+tt.reply[:min(len(tt.reply), 40)], func(t *testing.T) {
			r := parse(t, tt.reply)
			class, _ := Classify(r)
			if class != tt.class {
				t.Errorf("Classify(%q) = %v, want %v (source: %s)", tt.reply, class, tt.class, tt.source)
			}
			checkMechanism(t, r, class)
		})
	}
}

// checkMechanism checks the rules of issue 9 that hold whatever the text:
// an enhanced code about policy (X.7.x) or the sender (X.1.7, X.1.8) is
// never a verdict on the mailbox, a 4xx is never Invalid or Disabled and
// is always worth asking again, and only X.2.2 or 552 are a full inbox
// without a text naming the mailbox.
func checkMechanism(t *testing.T, r *Reply, class Class) {
	t.Helper()
	e := r.Enhanced
	mailbox := class == Invalid || class == Disabled || class == FullInbox
	if (e.Subject == 7 || (e.Subject == 1 && (e.Detail == 7 || e.Detail == 8))) && mailbox {
		t.Errorf("%q: a reply about us (X.%d.%d) read as %v", r.Error(), e.Subject, e.Detail, class)
	}
	if r.Temporary() && (class == Invalid || class == Disabled) {
		t.Errorf("%q: a 4xx read as %v", r.Error(), class)
	}
	if r.Temporary() && RetryAfter(r, class) == 0 {
		t.Errorf("RetryAfter(%q) = 0: a 4xx is worth asking again", r.Error())
	}
	if class == FullInbox && !(e.Subject == 2 || r.Code == 552) {
		var buf [512]byte
		tm := textMatch{b: lowerText(buf[:0], r)}
		if !tm.has(quotaWords) || !tm.has(mailboxWords) {
			t.Errorf("%q: FullInbox without X.2.x, 552 or a quota text naming the mailbox", r.Error())
		}
	}
}
