package cost

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// us-east-1 list prices (on-demand, no free tier).
const (
	priceLambdaGBs     = 0.0000133334 // arm64, per GB-second
	priceLambdaRequest = 0.20 / 1e6
	priceSQSRequest    = 0.40 / 1e6 // standard queue
	priceWRU           = 0.625 / 1e6
	priceRRU           = 0.125 / 1e6
	priceHTTPAPI       = 1.00 / 1e6
)

// The network model, injected by the meters and proxies: the emulators and
// mail servers answer on loopback, so every exchange is made to take what
// it takes from a Lambda function in us-east-1.
const (
	smtpRTT    = 100 * time.Millisecond // Lambda → SOCKS5 proxy → MX host and back
	dynamoRTT  = 8 * time.Millisecond   // one DynamoDB call in-region
	sqsRTT     = 15 * time.Millisecond  // one SQS call in-region
	vcpuMemory = 1769                   // MB of memory that get one full vCPU
	esmIdle    = "idle polls of the event source mapping (5 pollers × 3/min, about $0.26 a month per queue) are a fixed cost, left out"
)

// cpuFactor turns CPU time measured on this machine into Lambda wall time
// at mb of memory, which gets mb/1769 of a vCPU.
func cpuFactor(mb int) float64 { return float64(vcpuMemory) / float64(mb) }

// invocation is one measured worker or API invocation.
type invocation struct {
	who        string
	start, end time.Time
	failures   int
	waits      time.Duration // politeness sleeps, as measured (compressed)
}

// totals is the whole run, summed.
type totals struct {
	addresses   int
	workerMB    int // the functions' MemorySize
	apiMB       int
	scale       float64
	wru, idxWRU float64
	rru         float64
	sqsReq      float64
	sqsEmpty    int
	ops         map[string]float64 // service.op → calls
	lambdaInv   int
	apiInv      int
	gbs         float64
	cpu         time.Duration // measured, all functions
	wall        time.Duration // measured invocation time
	waits       time.Duration // politeness waits, decompressed
	extraCPU    time.Duration // added for Lambda's share of a vCPU
	trips       int
	peakMB      int // the worker bootstraps' peak resident memory
	sessions    int
	sent, hand  int // messages the API sent; messages the workers sent
	dead        int
	failures    int
}

func (t *totals) addCalls(calls []call) {
	t.ops = map[string]float64{}
	for _, c := range calls {
		if c.service == "sqs" && c.op == "ReceiveMessage" && c.messages == 0 {
			t.sqsEmpty++
			continue
		}
		t.ops[c.service+" "+c.op]++
		t.wru += c.wru
		t.idxWRU += c.indexWRU
		t.rru += c.rru
		t.sqsReq += c.requests
		if c.service == "sqs" && strings.HasPrefix(c.op, "SendMessage") {
			if c.who == "api" {
				t.sent += c.messages
			} else {
				t.hand += c.messages
			}
		}
	}
}

// addInvocation adds the measured duration of one invocation, its
// politeness waits decompressed (they ran scale times faster than at the
// configured politeness).
func (t *totals) addInvocation(i invocation) {
	extra := time.Duration(float64(i.waits) * (t.scale - 1))
	d := i.end.Sub(i.start) + extra
	mb := t.workerMB
	if i.who == "api" {
		mb = t.apiMB
	}
	t.gbs += d.Seconds() * float64(mb) / 1024
	t.wall += i.end.Sub(i.start)
	t.waits += i.waits + extra
	t.failures += i.failures
	if i.who == "api" {
		t.apiInv++
	} else {
		t.lambdaInv++
	}
}

// addCPU adds what a function process's CPU time (cold start included:
// Lambda bills the init phase too) takes longer on Lambda's share of a
// vCPU than on this machine's full core.
func (t *totals) addCPU(cpu time.Duration, api bool) {
	mb := t.workerMB
	if api {
		mb = t.apiMB
	}
	extra := time.Duration(float64(cpu) * (cpuFactor(mb) - 1))
	t.cpu += cpu
	t.extraCPU += extra
	t.gbs += extra.Seconds() * float64(mb) / 1024
}

// report writes the figures and ends with the line make cost promises.
func (t *totals) report(w io.Writer) {
	n := float64(t.addresses)
	per := func(x float64) float64 { return x / n }
	dynamo := (t.wru+t.idxWRU)*priceWRU + t.rru*priceRRU
	sqs := t.sqsReq * priceSQSRequest
	lambda := t.gbs*priceLambdaGBs + float64(t.lambdaInv+t.apiInv)*priceLambdaRequest
	api := float64(t.apiInv) * priceHTTPAPI
	total := (dynamo + sqs + lambda + api) / n * 1e6
	fmt.Fprintf(w, "job: %d addresses, %d messages from the API, %d sent back by workers, %d in the dead-letter queue\n",
		t.addresses, t.sent, t.hand, t.dead)
	fmt.Fprintf(w, "lambda: %d worker invocations (%d records failed), %d API invocations\n", t.lambdaInv, t.failures, t.apiInv)
	fmt.Fprintf(w, "calls per address:")
	keys := make([]string, 0, len(t.ops))
	for k := range t.ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, " %s %.4f;", k, per(t.ops[k]))
	}
	fmt.Fprintf(w, "\ndynamodb per address: %.3f WRU (table %.3f + indexes %.3f, index writes added by AWS's rules), %.3f RRU\n",
		per(t.wru+t.idxWRU), per(t.wru), per(t.idxWRU), per(t.rru))
	fmt.Fprintf(w, "sqs per address: %.4f billed requests (64 KiB chunks); %d empty receives not counted: %s\n", per(t.sqsReq), t.sqsEmpty, esmIdle)
	fmt.Fprintf(w, "lambda duration model: each invocation's wall time, measured with the network delays injected (%v per SMTP round trip "+
		"and %d more per new session through SOCKS5, %v per DynamoDB call, %v per SQS call), plus its politeness waits × %.0f more "+
		"(the time compression), plus the functions' measured CPU time × %.2f more (%d MB get %.2f of a vCPU; the API × %.2f at %d MB)\n",
		smtpRTT, setupRoundTrips, dynamoRTT, sqsRTT, t.scale-1, cpuFactor(t.workerMB)-1, t.workerMB, 1/cpuFactor(t.workerMB), cpuFactor(t.apiMB)-1, t.apiMB)
	fmt.Fprintf(w, "lambda per address: %.2f ms of invocation wall time (%.2f SMTP sessions, %.2f round trips), waits %.2f ms, CPU %.3f ms measured (+%.3f ms on Lambda) → %.5f GB-s\n",
		ms(t.wall)/n, float64(t.sessions)/n, float64(t.trips)/n, ms(t.waits)/n, ms(t.cpu)/n, ms(t.extraCPU)/n, per(t.gbs))
	fmt.Fprintf(w, "worker memory: peak %d MB resident of its %d MB\n", t.peakMB, t.workerMB)
	fmt.Fprintf(w, "cost per million: dynamodb $%.2f, sqs $%.2f, lambda $%.2f (requests included), api gateway $%.2f\n",
		dynamo/n*1e6, sqs/n*1e6, lambda/n*1e6, api/n*1e6)
	fmt.Fprintf(w, "cost per million bulk verifications: $%.2f (dynamodb %.2f WRU + %.2f RRU, sqs %.2f requests, lambda %.4f GB-s per address)\n",
		total, per(t.wru+t.idxWRU), per(t.rru), per(t.sqsReq), per(t.gbs))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
