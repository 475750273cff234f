package cost

import (
	"fmt"
	"math"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/dnstest"
	"github.com/mailprobe/mailprobe/internal/testenv/smtptest"
)

// The domain mix of the measured job, by share of the addresses.
const (
	providerShare = 0.40 // gmail.com, one MX host
	syntaxShare   = 0.01 // invalid syntax: no SMTP at all
	invalidShare  = 0.18 // mailboxes the server refuses (550 5.1.1)
)

// Shares of the long tail's domains, by where their mail is hosted.
const (
	workspaceShare = 0.12 // Google Workspace: every such domain shares aspmx.l.google.com
	greylistShare  = 0.08 // a postgrey-like server: the first RCPT of each address gets 450
	catchAllShare  = 0.10 // a server accepting every recipient (risky)
	noPipeShare    = 0.35 // a server without PIPELINING
)

// mix is the job's input and what it is made of.
type mix struct {
	emails    []string
	domains   int // distinct domains
	greylist  int // addresses on the greylisting server
	workspace int // addresses on the shared Workspace MX host
	provider  int // addresses at gmail.com
}

// hosting is where a domain's MX points.
type hosting int

const (
	hostPipelining hosting = iota
	hostNoPipelining
	hostGreylist
	hostCatchAll
)

type domain struct {
	name   string
	mx     string
	host   hosting
	weight int
}

// buildMix makes n addresses: gmail.com holds providerShare, and a long
// tail of domains (Zipf-distributed sizes, most with a handful of
// addresses) the rest, shuffled as a real list would be.
func buildMix(n int) (mix, []domain) {
	rng := rand.New(rand.NewSource(12))
	doms := []domain{{name: "gmail.com", mx: "gmail-smtp-in.l.google.com.", host: hostPipelining, weight: int(float64(n) * providerShare)}}
	rest := n - doms[0].weight
	zipf := rand.NewZipf(rng, 2, 1, 300)
	for k := 1; rest > 0; k++ {
		size := min(int(zipf.Uint64())+1, rest)
		rest -= size
		d := domain{name: fmt.Sprintf("tail%04d.test", k), weight: size}
		d.mx = "mx." + d.name + "."
		switch r := rng.Float64(); {
		case r < workspaceShare:
			d.mx = "aspmx.l.google.com."
		case r < workspaceShare+greylistShare:
			d.host = hostGreylist
		case r < workspaceShare+greylistShare+catchAllShare:
			d.host = hostCatchAll
		case r < workspaceShare+greylistShare+catchAllShare+noPipeShare:
			d.host = hostNoPipelining
		}
		doms = append(doms, d)
	}
	m := mix{domains: len(doms)}
	for _, d := range doms {
		for i := range d.weight {
			m.emails = append(m.emails, address(rng, d.name, i))
		}
		switch {
		case d.name == "gmail.com":
			m.provider += d.weight
		case d.mx == "aspmx.l.google.com.":
			m.workspace += d.weight
		case d.host == hostGreylist:
			m.greylist += d.weight
		}
	}
	rng.Shuffle(len(m.emails), func(i, j int) { m.emails[i], m.emails[j] = m.emails[j], m.emails[i] })
	return m, doms
}

// address is a valid mailbox ("u..."), a refused one ("x...") or an
// address with invalid syntax.
func address(rng *rand.Rand, domain string, i int) string {
	switch r := rng.Float64(); {
	case r < syntaxShare:
		return "no..dots" + strconv.Itoa(i) + "@" + domain
	case r < syntaxShare+invalidShare:
		return "x" + strconv.Itoa(i) + "." + strconv.Itoa(rng.Intn(1e6)) + "@" + domain
	default:
		return "u" + strconv.Itoa(i) + "." + strconv.Itoa(rng.Intn(1e6)) + "@" + domain
	}
}

// internet is the loopback stand-in for the mail servers of the mix.
type internet struct {
	dns  *dnstest.Server
	port int
}

// greylistWait is what the greylisting server asks for, before the time
// compression.
const greylistWait = 60 * time.Second

// startInternet serves the mix's DNS and one scripted SMTP server per
// hosting kind, each on its own loopback address and the same port (the
// functions have one smtp_port). The greylisting server names its wait
// compressed like every other wait.
func startInternet(t *testing.T, doms []domain, scale float64) internet {
	t.Helper()
	mailbox := func(rcpt string) string {
		if strings.HasPrefix(rcpt, "u") {
			return smtptest.AcceptReply
		}
		return smtptest.UnknownReply
	}
	var seen sync.Map
	wait := int(math.Ceil(greylistWait.Seconds() / scale))
	greylist := func(rcpt string) string {
		if _, again := seen.LoadOrStore(strings.ToLower(rcpt), true); !again {
			return fmt.Sprintf("450 4.7.1 %s: greylisted, try again in %d seconds", rcpt, wait)
		}
		return mailbox(rcpt)
	}
	kinds := map[hosting]smtptest.Options{
		hostPipelining:   {Pipelining: true, Mailbox: mailbox},
		hostNoPipelining: {Mailbox: mailbox},
		hostGreylist:     {Pipelining: true, Mailbox: greylist},
		hostCatchAll:     {Pipelining: true, CatchAll: true},
	}
	ips := map[hosting]string{}
	port := 0
	for h := hostPipelining; h <= hostCatchAll; h++ {
		o := kinds[h]
		ip := "127.0.0." + strconv.Itoa(20+int(h))
		o.Addr = net.JoinHostPort(ip, strconv.Itoa(port))
		s := smtptest.Start(t, o)
		port = s.Port()
		ips[h] = ip
	}
	dns := dnstest.Start(t, nil)
	hosts := map[string]bool{}
	for _, d := range doms {
		dns.AddMX(d.name+".", 10, d.mx)
		if !hosts[d.mx] {
			hosts[d.mx] = true
			dns.AddA(d.mx, ips[d.host])
		}
	}
	return internet{dns: dns, port: port}
}
