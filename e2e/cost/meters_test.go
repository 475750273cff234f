package cost

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// call is one AWS API request a function (or the event source mapping)
// made, as a meter in front of an emulator saw it.
type call struct {
	who        string // "api", "worker-N", "esm"
	service    string // "dynamodb" or "sqs"
	op         string // PutItem, SendMessageBatch, ...
	start, end time.Time
	wru, rru   float64 // DynamoDB: table capacity as AWS bills it
	indexWRU   float64 // DynamoDB: global secondary index writes (added by the meter)
	requests   float64 // SQS: billed requests (64 KiB chunks)
	messages   int     // SQS: messages sent or received
	failed     bool    // the emulator answered an error
}

// ledger collects every metered call. It is safe for concurrent use.
type ledger struct {
	mu    sync.Mutex
	calls []call
}

func (l *ledger) add(c call) {
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
}

func (l *ledger) all() []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]call(nil), l.calls...)
}

// forward sends the (possibly rewritten) request body to the emulator and
// returns its status, headers and body.
func forward(client *http.Client, target string, r *http.Request, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range r.Header {
		if !strings.EqualFold(k, "Content-Length") {
			req.Header[k] = v
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out, err
}

func reply(w http.ResponseWriter, status int, h http.Header, body []byte) {
	for k, v := range h {
		if !strings.EqualFold(k, "Content-Length") {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// serve runs h on a loopback port until the test ends and returns its URL.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// sqsMeter counts SQS requests as AWS bills them: one per request, and
// one per 64 KiB chunk of the payload of a send or a receive.
type sqsMeter struct {
	who    string
	rtt    time.Duration // added to every call: an in-region round trip
	target string
	client *http.Client
	ledger *ledger
}

const sqsChunk = 64 * 1024

func (m *sqsMeter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := call{who: m.who, service: "sqs", op: strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS."), start: time.Now()}
	time.Sleep(m.rtt)
	status, h, out, err := forward(m.client, m.target, r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c.end, c.failed = time.Now(), status != http.StatusOK
	payload := 0
	switch c.op {
	case "SendMessage", "SendMessageBatch":
		payload = len(body)
		c.messages = max(1, strings.Count(string(body), `"MessageBody"`))
	case "ReceiveMessage":
		payload = len(out)
		var v struct{ Messages []json.RawMessage }
		_ = json.Unmarshal(out, &v)
		c.messages = len(v.Messages)
	}
	c.requests = max(1, float64((payload+sqsChunk-1)/sqsChunk))
	m.ledger.add(c)
	reply(w, status, h, out)
}
