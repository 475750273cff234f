package engine_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// dropServer is a minimal SMTP server that ends every session after
// answering its first n commands, as servers with a per-connection command
// limit do: it sends the replies, then FIN, then drains what the client
// still sends (so the kernel does not turn the close into a reset that
// would destroy replies in flight). smtptest cannot do this.
type dropServer struct {
	ln         net.Listener
	n          int
	pipelining bool
	users      map[string]string // lower-case address → RCPT reply; else 550 5.1.1

	wg       sync.WaitGroup
	mu       sync.Mutex
	sessions int
}

func startDropServer(t testing.TB, n int, pipelining bool, users map[string]string) *dropServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dropServer{ln: ln, n: n, pipelining: pipelining, users: users}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *dropServer) Host() string { return s.ln.Addr().(*net.TCPAddr).IP.String() }
func (s *dropServer) Port() int    { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *dropServer) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

func (s *dropServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c.(*net.TCPConn))
		}()
	}
}

func (s *dropServer) handle(c *net.TCPConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br, bw := bufio.NewReader(c), bufio.NewWriter(c)
	bw.WriteString("220 drop.test ESMTP\r\n")
	bw.Flush()
	for i := 0; i < s.n; i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		reply, quit := s.reply(strings.TrimRight(line, "\r\n"))
		bw.WriteString(reply)
		if quit {
			bw.Flush()
			return
		}
		if br.Buffered() == 0 { // answer what arrived together together
			bw.Flush()
		}
	}
	bw.Flush()
	_ = c.CloseWrite()
	_, _ = br.WriteTo(io.Discard)
}

func (s *dropServer) reply(line string) (string, bool) {
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "EHLO":
		if s.pipelining {
			return "250-drop.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n", false
		}
		return "250-drop.test\r\n250 ENHANCEDSTATUSCODES\r\n", false
	case "MAIL", "RSET":
		return "250 2.0.0 OK\r\n", false
	case "RCPT":
		_, rest, _ := strings.Cut(arg, "<")
		addr, _, _ := strings.Cut(rest, ">")
		if r, ok := s.users[strings.ToLower(addr)]; ok {
			return r + "\r\n", false
		}
		return "550 5.1.1 user unknown\r\n", false
	case "QUIT":
		return "221 2.0.0 bye\r\n", true
	}
	return "500 5.5.1 unknown command\r\n", false
}
