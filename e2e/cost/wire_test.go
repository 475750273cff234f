package cost

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// setupRoundTrips is what an SMTP session costs before the server's first
// reply can be read through a SOCKS5 proxy: the TCP handshake with the
// proxy, the SOCKS5 greeting, the username/password exchange and CONNECT
// (which includes the proxy's own TCP handshake with the MX host), then
// the banner.
const setupRoundTrips = 5

// wire is the network between one function instance and the mail
// servers, as its SOCKS5 proxy relays it: it records each session's round
// trips and makes each take rtt, as the Internet would. A round trip is
// each time the client sends after the server last spoke (so pipelined
// commands sent together count once); a new session first waits
// setupRoundTrips round trips.
type wire struct {
	rtt      time.Duration
	mu       sync.Mutex
	sessions []*session
}

type session struct {
	open, close time.Time
	trips       []time.Time
	sending     bool
}

func (w *wire) wrap(_ string, c net.Conn) net.Conn {
	time.Sleep(setupRoundTrips * w.rtt)
	s := &session{open: time.Now()}
	for range setupRoundTrips {
		s.trips = append(s.trips, s.open)
	}
	w.mu.Lock()
	w.sessions = append(w.sessions, s)
	w.mu.Unlock()
	return &tripConn{Conn: c, w: w, s: s}
}

type tripConn struct {
	net.Conn
	w    *wire
	s    *session
	once sync.Once
}

func (c *tripConn) Write(p []byte) (int, error) {
	c.w.mu.Lock()
	turn := !c.s.sending
	if turn {
		c.s.trips = append(c.s.trips, time.Now())
		c.s.sending = true
	}
	c.w.mu.Unlock()
	if turn {
		time.Sleep(c.w.rtt)
	}
	return c.Conn.Write(p)
}

func (c *tripConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.w.mu.Lock()
		c.s.sending = false
		c.w.mu.Unlock()
	}
	return n, err
}

func (c *tripConn) Close() error {
	c.once.Do(func() {
		c.w.mu.Lock()
		c.s.close = time.Now()
		c.w.mu.Unlock()
	})
	return c.Conn.Close()
}

// count returns the sessions opened and the round trips made during
// [from, to].
func (w *wire) count(from, to time.Time) (sessions, trips int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.sessions {
		if !s.open.Before(from) && !s.open.After(to) {
			sessions++
		}
		for _, e := range s.trips {
			if !e.Before(from) && !e.After(to) {
				trips++
			}
		}
	}
	return sessions, trips
}

// procStats returns the user+system CPU time and the peak resident memory
// of the children of pid (the bootstrap a Lambda emulator runs), from
// /proc.
func procStats(pid int) (cpu time.Duration, peakMB int, err error) {
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, 0, err
	}
	found := false
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 || f[1] != strconv.Itoa(pid) {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		// USER_HZ is 100 on every Linux the tests run on.
		cpu += time.Duration(utime+stime) * 10 * time.Millisecond
		peakMB = max(peakMB, vmHWM(filepath.Join(d, "status")))
		found = true
	}
	if !found {
		return 0, 0, fmt.Errorf("no child process of %d", pid)
	}
	return cpu, peakMB, nil
}

// vmHWM reads the peak resident set size, in MB, from a status file.
func vmHWM(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return kb / 1024
		}
	}
	return 0
}
