// Package smtpprobe asks an SMTP server whether mailboxes exist, without
// sending mail, and classifies what it answers.
//
// The caller dials (through a SOCKS5 proxy, normally) and passes the
// net.Conn. Probe runs the whole conversation for one or many recipients
// of a domain: banner, EHLO (HELO as fallback), MAIL FROM, RCPT TO each
// recipient (pipelined per RFC 2920 when offered), one catch-all RCPT and
// QUIT. Client exposes the same steps one by one, each bounded by ctx
// and a per-command timeout. ReadReply parses replies strictly (RFC 5321
// §4.2, RFC 3463 enhanced codes), and Classify maps a reply to a Class
// through one table: reply code and enhanced code first, Reacher's texts
// second.
package smtpprobe
