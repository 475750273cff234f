// Package smtptest runs a scripted SMTP server on loopback for tests and
// benchmarks. It answers exactly what its Options say, including the
// misbehaviour real servers show: no banner (a tarpit), a drop after the
// banner, greylisting, recipient limits, 421 in mid-session, multi-line
// replies. It never accepts a message: DATA is refused.
package smtptest

import (
	"maps"
	"net"
	"sync"
	"testing"
	"time"
)

// Replies the server uses when Options do not say otherwise.
const (
	DefaultBanner   = "220 mx.test ESMTP smtptest"
	DefaultMail     = "250 2.1.0 OK"
	AcceptReply     = "250 2.1.5 OK"
	UnknownReply    = "550 5.1.1 user unknown"
	GreylistReply   = "450 4.7.1 greylisted, try again in 60 seconds"
	TooManyReply    = "452 4.5.3 Too many recipients"
	defaultIdle     = 30 * time.Second
	defaultListen   = "127.0.0.1:0"
	maxCommandBytes = 2048 // RFC 5321 §4.5.3.1.4 allows 512; leave slack
)

// Options script the server. Replies are full reply text, code included;
// separate the lines of a multi-line reply with "\n" (the server sends
// CRLF). The zero value is a server where every RCPT gets UnknownReply.
type Options struct {
	Addr       string // listen address; default "127.0.0.1:0"
	Banner     string // default DefaultBanner; 421 closes, 554 refuses all but QUIT
	NoBanner   bool   // tarpit: accept, read, never answer
	EHLOReject bool   // answer EHLO with 502 so clients fall back to HELO
	// RevealClient makes the EHLO greeting name the client's address,
	// "250-mx.test Hello NAME [127.0.0.9]", as Exim, Sendmail, Gmail
	// and Outlook do.
	RevealClient bool
	Pipelining   bool          // advertise PIPELINING (RFC 2920)
	SMTPUTF8     bool          // advertise SMTPUTF8 (RFC 6531)
	MailReply    string        // reply to MAIL FROM; default DefaultMail
	Delay        time.Duration // sleep before each flush of replies: one simulated round trip
	IdleTimeout  time.Duration // close a session idle this long; default 30 s

	// Mailbox, when set, gives the reply to RCPT TO:<rcpt> (rcpt as sent).
	Mailbox func(rcpt string) string
	// Users maps lower-case addresses to their RCPT reply when Mailbox
	// is nil. A missing address gets AcceptReply if CatchAll, else
	// UnknownReply.
	Users    map[string]string
	CatchAll bool

	// MaxRecipients > 0 answers TooManyReply to every RCPT after the
	// first N of a transaction (accepted or not).
	MaxRecipients int
	// DropAfterBanner closes the connection right after the banner.
	DropAfterBanner bool
	// DropAfterEHLO answers EHLO (or HELO), then closes the connection.
	DropAfterEHLO bool
	// Greylist > 0 answers GreylistReply to the first N RCPTs of each
	// address (counted across sessions), then answers normally.
	Greylist int
	// Source, if set, makes the server close at once every connection
	// whose remote IP is not Source: proof that traffic came through a
	// proxy. Refused connections are counted by Refused.
	Source string
}

func (o Options) clone() Options {
	o.Users = maps.Clone(o.Users)
	return o
}

// Server is a running scripted SMTP server. Its methods are safe for
// concurrent use.
type Server struct {
	ln net.Listener
	wg sync.WaitGroup

	mu        sync.Mutex
	opts      Options
	closed    bool
	conns     map[net.Conn]struct{}
	commands  []string
	grey      map[string]int
	sessions  int
	active    int
	maxActive int
	rcpts     int
	refused   int
	maxBatch  int
}

// Start listens on opts.Addr (default 127.0.0.1:0) and serves until the
// test ends; t.Cleanup closes the listener and every session and waits for
// them.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	addr := opts.Addr
	if addr == "" {
		addr = defaultListen
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("smtptest: listen on %s: %v", addr, err)
	}
	s := &Server{ln: ln, opts: opts.clone(), conns: map[net.Conn]struct{}{}, grey: map[string]int{}}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			if s.isClosed() {
				return
			}
			time.Sleep(5 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		if !s.track(conn) {
			_ = conn.Close()
			return
		}
		go func() {
			defer s.wg.Done()
			defer s.untrack(conn)
			s.handle(conn)
		}()
	}
}

func (s *Server) handle(conn net.Conn) {
	o := s.Options()
	if o.Source != "" {
		if ta, ok := conn.RemoteAddr().(*net.TCPAddr); !ok || ta.IP.String() != o.Source {
			s.mu.Lock()
			s.refused++
			s.mu.Unlock()
			return
		}
	}
	s.mu.Lock()
	s.sessions++
	s.active++
	s.maxActive = max(s.maxActive, s.active)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()
	newSession(s, conn).run()
}

// track registers a session; it fails once the server is closing, and
// adds to the wait group under the lock so Close cannot miss it.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c net.Conn) {
	_ = c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops the server, closes every session and waits for them. It is
// called by Start's cleanup and may be called earlier.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	_ = s.ln.Close()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Addr returns the listening address as host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host returns the listening IP.
func (s *Server) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }

// Port returns the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Options returns a copy of the current options.
func (s *Server) Options() Options {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts
}

// SetOptions replaces the options; sessions pick them up at their next
// command. Addr is ignored.
func (s *Server) SetOptions(o Options) {
	s.mu.Lock()
	s.opts = o.clone()
	s.mu.Unlock()
}

// Update changes the options in place: fn gets a copy (with its own Users
// map) and may modify it freely.
func (s *Server) Update(fn func(*Options)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.opts.clone()
	fn(&o)
	s.opts = o
}

// Sessions returns how many sessions were served (refused ones excluded).
func (s *Server) Sessions() int { return s.get(&s.sessions) }

// MaxConcurrentSessions returns the peak number of simultaneous sessions.
func (s *Server) MaxConcurrentSessions() int { return s.get(&s.maxActive) }

// Rcpts returns how many RCPT commands were received in all sessions.
func (s *Server) Rcpts() int { return s.get(&s.rcpts) }

// Refused returns how many connections the Source check closed.
func (s *Server) Refused() int { return s.get(&s.refused) }

// MaxBatch returns the largest number of commands the server read before
// it had to answer: above 1 only if a client pipelined (RFC 2920).
func (s *Server) MaxBatch() int { return s.get(&s.maxBatch) }

// Commands returns every command line received, in arrival order, without
// CRLF.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

func (s *Server) get(p *int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *p
}

func (s *Server) record(line string, rcpt bool) {
	s.mu.Lock()
	s.commands = append(s.commands, line)
	if rcpt {
		s.rcpts++
	}
	s.mu.Unlock()
}

func (s *Server) noteBatch(n int) {
	s.mu.Lock()
	s.maxBatch = max(s.maxBatch, n)
	s.mu.Unlock()
}

// greylisted reports whether addr is still to be greylisted, counting
// this attempt.
func (s *Server) greylisted(addr string, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.grey[addr] >= n {
		return false
	}
	s.grey[addr]++
	return true
}
