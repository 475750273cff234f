package mx

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/miekg/dns"
)

// ErrNXDomain reports that the domain does not exist (rcode NXDOMAIN), or
// cannot exist because its name is malformed: an address there is invalid.
var ErrNXDomain = errors.New("mx: no such domain")

// ErrNoMail reports that the domain exists but has neither MX records nor
// A/AAAA records to act as an implicit MX (RFC 5321 §5.1), so it accepts no
// mail.
var ErrNoMail = errors.New("mx: domain has no mx and no address records")

// ErrNoAddress reports that LookupIP found neither A nor AAAA records for a
// host that exists.
var ErrNoAddress = errors.New("mx: host has no address records")

// errCNAMEChain reports a CNAME chain longer than maxCNAME, usually a loop.
var errCNAMEChain = errors.New("cname chain too long")

// errMismatch reports an answer to a question other than the one asked
// (RFC 5452 §4.1: the question section must match).
var errMismatch = errors.New("answer does not match the question")

// ResolveError reports that a name could not be resolved: every server
// failed, answered SERVFAIL or REFUSED, or timed out, or the caller's context
// ended. The answer is unknown, not negative.
type ResolveError struct {
	// Domain is the name being queried when resolution failed: the domain
	// looked up or a name its CNAME chain leads to.
	Domain string
	// Rcode is the last response code a server answered with
	// (dns.RcodeServerFailure, ...), or -1 when no server answered.
	Rcode int
	// Err is the failure at the last server tried, or the context's error.
	Err error
}

// Error implements error.
func (e *ResolveError) Error() string {
	return fmt.Sprintf("mx: resolve %s: %v", e.Domain, e.Err)
}

// Unwrap returns the underlying error.
func (e *ResolveError) Unwrap() error { return e.Err }

// Timeout reports whether resolution failed because a server or the caller's
// context ran out of time.
func (e *ResolveError) Timeout() bool {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(e.Err, &ne) && ne.Timeout()
}

// rcodeError is a server's refusal to answer, kept apart from transport
// errors so that its text names the rcode.
type rcodeError struct {
	server string
	rcode  int
}

func (e *rcodeError) Error() string {
	name, ok := dns.RcodeToString[e.rcode]
	if !ok {
		name = fmt.Sprintf("rcode %d", e.rcode)
	}
	return fmt.Sprintf("%s answered %s", e.server, name)
}
