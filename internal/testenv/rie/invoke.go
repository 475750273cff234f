package rie

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Outcome is how an invocation ended, in Lambda's terms.
type Outcome int

const (
	// Invoked: the handler returned a result.
	Invoked Outcome = iota
	// FunctionError: the handler returned an error or panicked (Lambda's
	// X-Amz-Function-Error: Unhandled); the environment lives on.
	FunctionError
	// TimedOut: the function ran past its timeout; Lambda resets the
	// environment.
	TimedOut
	// Crashed: the runtime exited or the environment died; replaced.
	Crashed
)

func (o Outcome) String() string {
	return [...]string{"ok", "function error", "timed out", "crashed"}[o]
}

// Result is one invocation's outcome and payload.
type Result struct {
	Outcome Outcome
	Payload []byte
	Detail  string // why it failed, for the log
}

// Healthy reports whether the execution environment lives on after the
// invocation: Lambda replaces one that timed out or crashed.
func (r Result) Healthy() bool { return r.Outcome == Invoked || r.Outcome == FunctionError }

// InvokeGrace is how long past the function's timeout Invoke waits for
// the emulator's own timeout answer before giving the invocation up.
const InvokeGrace = 5 * time.Second

// Invoke sends event to the emulator's invoke URL and classifies the
// answer; timeout is the function's.
//
// aws-lambda-rie answers HTTP 200 in every case but a dead runtime (502),
// and drops the X-Amz-Function-Error header Lambda would set: a timeout is
// the text "Task timed out after N.00 seconds", and a function error is
// the runtime's error document {"errorMessage", "errorType"}. A handler
// of this project never returns an object shaped like that document.
func Invoke(ctx context.Context, url string, event []byte, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout+InvokeGrace)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(event))
	if err != nil {
		return Result{Outcome: Crashed, Detail: err.Error()}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return Result{Outcome: TimedOut, Detail: "no answer within the timeout"}
		}
		return Result{Outcome: Crashed, Detail: err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Result{Outcome: Crashed, Detail: "reading the answer: " + err.Error()}
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return Result{Outcome: Crashed, Payload: body, Detail: fmt.Sprintf("emulator answered HTTP %d: %s", resp.StatusCode, trim(body))}
	case bytes.HasPrefix(body, []byte("Task timed out after")):
		return Result{Outcome: TimedOut, Payload: body, Detail: string(body)}
	case isErrorDocument(body):
		return Result{Outcome: FunctionError, Payload: body, Detail: trim(body)}
	}
	return Result{Outcome: Invoked, Payload: body}
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
