package lambdalocal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// outcome is how an invocation ended, in Lambda's terms.
type outcome int

const (
	// invoked: the handler returned a result.
	invoked outcome = iota
	// functionError: the handler returned an error or panicked (Lambda's
	// X-Amz-Function-Error: Unhandled); the environment lives on.
	functionError
	// timedOut: the function ran past its timeout; Lambda resets the
	// environment.
	timedOut
	// crashed: the runtime exited or the environment died; replaced.
	crashed
)

func (o outcome) String() string {
	return [...]string{"ok", "function error", "timed out", "crashed"}[o]
}

// result is one invocation's outcome and payload.
type result struct {
	outcome outcome
	payload []byte
	detail  string // why it failed, for the log
}

// invokeGrace is how long past the function's timeout lambda-local waits
// for the emulator's own timeout answer before giving the invocation up.
const invokeGrace = 5 * time.Second

// invoke sends event to the emulator at url and classifies the answer.
//
// aws-lambda-rie answers HTTP 200 in every case but a dead runtime (502),
// and drops the X-Amz-Function-Error header Lambda would set: a timeout is
// the text "Task timed out after N.00 seconds", and a function error is
// the runtime's error document {"errorMessage", "errorType"}. A handler
// of this project never returns an object shaped like that document.
func invoke(ctx context.Context, url string, event []byte, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(ctx, timeout+invokeGrace)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(event))
	if err != nil {
		return result{outcome: crashed, detail: err.Error()}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return result{outcome: timedOut, detail: "no answer within the timeout"}
		}
		return result{outcome: crashed, detail: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{outcome: crashed, detail: "reading the answer: " + err.Error()}
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return result{outcome: crashed, payload: body, detail: fmt.Sprintf("emulator answered HTTP %d: %s", resp.StatusCode, trim(body))}
	case bytes.HasPrefix(body, []byte("Task timed out after")):
		return result{outcome: timedOut, payload: body, detail: string(body)}
	case isErrorDocument(body):
		return result{outcome: functionError, payload: body, detail: trim(body)}
	}
	return result{outcome: invoked, payload: body}
}

// isErrorDocument reports whether body is the Lambda runtime's error
// document: an object with errorMessage and errorType and nothing but
// stackTrace or cause besides.
func isErrorDocument(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	_, msg := m["errorMessage"]
	_, typ := m["errorType"]
	if !msg || !typ {
		return false
	}
	for k := range m {
		switch k {
		case "errorMessage", "errorType", "stackTrace", "cause":
		default:
			return false
		}
	}
	return true
}

func trim(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
