package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/mailprobe/mailprobe/internal/store"
)

// requestError is a problem with the client's request: its message is
// written for the client and sent as is.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// errorJSON is the body of every error response: {"error":"..."}, as in
// Reacher.
type errorJSON struct {
	Error string `json:"error"`
}

func errorBody(msg string) []byte {
	b, err := json.Marshal(errorJSON{Error: msg})
	if err != nil {
		// A string always marshals; keep the shape even if it did not.
		return []byte(`{"error":"error"}`)
	}
	return b
}

// writeJSON sends v with the given status. Marshalling errors are internal.
func (s *server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.internalError(w, fmt.Errorf("encode response: %w", err))
		return
	}
	writeRaw(w, status, b)
}

// writeRaw sends an already-encoded JSON body.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *server) writeError(w http.ResponseWriter, status int, msg string) {
	writeRaw(w, status, errorBody(msg))
}

// writeRequestError sends a client error, or a 500 for anything else.
func (s *server) writeRequestError(w http.ResponseWriter, err error) {
	var re *requestError
	if errors.As(err, &re) {
		s.writeError(w, re.status, re.msg)
		return
	}
	s.internalError(w, err)
}

// writeJobError answers a failed lookup of a job: 404 when there is no
// such job (err wraps store.ErrNotFound), else a 500.
func (s *server) writeJobError(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		s.writeError(w, http.StatusNotFound, "Job not found.")
		return
	}
	s.internalError(w, err)
}

// internalError logs err with the request id and answers with a fixed
// message that carries only that id: internal error texts (table names,
// addresses of back ends) never reach the client.
func (s *server) internalError(w http.ResponseWriter, err error) {
	id := idOf(w)
	if rw, ok := w.(*respWriter); ok {
		rw.err = err
	}
	s.writeError(w, http.StatusInternalServerError, "Internal server error (request id "+id+").")
}

// decodeError turns a json.Decoder error into a precise client message:
// which byte, which field, which type.
func decodeError(err error) *requestError {
	var (
		tooBig *http.MaxBytesError
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return &requestError{status: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("Request body is larger than %d bytes.", tooBig.Limit)}
	case errors.Is(err, io.EOF):
		return badRequest("Request body is empty; a JSON object is required.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("Request body is not complete JSON (unexpected end of input).")
	case errors.As(err, &syn):
		return badRequest("Malformed JSON at byte offset %d: %s.", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		// encoding/json names fields of an embedded struct with the
		// struct's name first; the client never saw that name.
		field := strings.TrimPrefix(typ.Field, embeddedRequest+".")
		if field == "" {
			return badRequest("Request body must be %s, not %s.", jsonKind(typ.Type), typ.Value)
		}
		return badRequest("Field %s must be %s, not %s (byte offset %d).", field, jsonKind(typ.Type), typ.Value, typ.Offset)
	}
	return badRequest("Request body is not valid JSON.")
}

// jsonKind names the JSON type a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// decodeBody reads exactly one JSON value from r's body, limited to limit
// bytes, into v. Trailing data after the value is an error: a body of two
// objects is a client bug worth reporting, not something to half-read.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return decodeError(err)
		}
		return badRequest("Request body must contain a single JSON value.")
	}
	return nil
}
