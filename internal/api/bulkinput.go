package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/mailprobe/mailprobe/engine"
)

// bulkInput is a decoded POST /v0/bulk or /v1/bulk body.
type bulkInput struct {
	emails  []string
	webhook json.RawMessage // compact JSON, nil when absent
	v0      v0Options       // read from /v0/bulk bodies only
}

// v0Options are the per-job check options of Reacher's POST /v0/bulk body
// (CreateBulkRequestBody); /v1/bulk has none and ignores these keys, as
// Reacher does.
type v0Options struct {
	InputType *string              `json:"input_type"`
	Proxy     *engine.RequestProxy `json:"proxy"`
	HelloName *string              `json:"hello_name"`
	FromEmail *string              `json:"from_email"`
	SMTPPorts []int                `json:"smtp_ports"`
}

// v0Keys are the keys of v0Options, decoded by decodeBulk when v0 is set.
var v0Keys = map[string]bool{"input_type": true, "proxy": true, "hello_name": true, "from_email": true, "smtp_ports": true}

// request returns the check options of a /v0/bulk job as the engine
// request every item gets (to_email aside). Reacher tries each of
// smtp_ports in turn while the result is unknown; mailprobe uses the first
// (README, Migrating from Reacher).
func (o v0Options) request() engine.Request {
	var req engine.Request
	req.Proxy = o.Proxy
	if o.HelloName != nil {
		req.HelloName = *o.HelloName
	}
	if o.FromEmail != nil {
		req.FromEmail = *o.FromEmail
	}
	if len(o.SMTPPorts) > 0 {
		req.SMTPPort = o.SMTPPorts[0]
	}
	return req
}

// webhookJSON is Reacher's webhook object; only its shape is checked here,
// the worker POSTs to it.
type webhookJSON struct {
	OnEachEmail *struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Extra   json.RawMessage   `json:"extra"`
	} `json:"on_each_email"`
}

// decodeBulk reads {"input":[...], "webhook":{...}} token by token, so that
// an oversized list is refused at its (maxAddrs+1)th address instead of
// after decoding millions of strings, and a wrong element is reported by
// its index. With v0 set, the options of Reacher's /v0/bulk body are read
// too. Unknown fields are skipped, as Reacher does.
func decodeBulk(w http.ResponseWriter, r *http.Request, maxBytes int64, maxAddrs int, v0 bool) (bulkInput, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBytes))
	if err := expectDelim(dec, '{', "Request body must be a JSON object."); err != nil {
		return bulkInput{}, err
	}
	var in bulkInput
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bulkInput{}, decodeError(err)
		}
		key, _ := tok.(string) // object keys are always strings
		switch key {
		case "input":
			seen = true
			if in.emails, err = decodeInput(dec, maxAddrs); err != nil {
				return bulkInput{}, err
			}
		case "webhook":
			if in.webhook, err = decodeWebhook(dec); err != nil {
				return bulkInput{}, err
			}
		default:
			if v0 && v0Keys[key] {
				if err := decodeV0Option(dec, key, &in.v0); err != nil {
					return bulkInput{}, err
				}
				continue
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return bulkInput{}, decodeError(err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return bulkInput{}, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return bulkInput{}, decodeError(err)
		}
		return bulkInput{}, badRequest("Request body must contain a single JSON value.")
	}
	switch {
	case !seen:
		return bulkInput{}, badRequest("input field is required.")
	case len(in.emails) == 0:
		return bulkInput{}, badRequest("input field must contain at least one email address.")
	}
	return in, nil
}

// decodeV0Option decodes the value of one v0Options key into o, naming
// the key in type errors.
func decodeV0Option(dec *json.Decoder, key string, o *v0Options) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return decodeError(err)
	}
	obj := append(append([]byte(`{"`+key+`":`), raw...), '}')
	if err := json.Unmarshal(obj, o); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return badRequest("Field %s must be %s, not %s.", typ.Field, jsonKind(typ.Type), typ.Value)
		}
		return badRequest("Field %s is not valid JSON.", key)
	}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim, msg string) error {
	tok, err := dec.Token()
	if err != nil {
		return decodeError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return badRequest("%s", msg)
	}
	return nil
}

// maxInputBytes bounds one input element. RFC 5321 §4.5.3.1.3 limits a
// path to 256 octets, so anything longer is a client bug; the bound also
// keeps every queue message far below SQS's 256 KiB.
const maxInputBytes = 1024

// decodeInput reads the input array. Every element must be a non-blank
// string of at most maxInputBytes; other strings that are not valid
// addresses are accepted and verified as invalid, like any other address.
// Blank elements are refused rather than stored as invalid: they are almost
// always a client's CSV-splitting bug, better reported than counted.
func decodeInput(dec *json.Decoder, maxAddrs int) ([]string, error) {
	if err := expectDelim(dec, '[', "input field must be an array of strings."); err != nil {
		return nil, err
	}
	emails := make([]string, 0, 64)
	for dec.More() {
		if len(emails) >= maxAddrs {
			return nil, &requestError{status: http.StatusRequestEntityTooLarge,
				msg: "input field has more than " + strconv.Itoa(maxAddrs) + " addresses."}
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, decodeError(err)
		}
		s, ok := tok.(string)
		switch {
		case !ok:
			return nil, badRequest("input[%d] must be a string.", len(emails))
		case len(s) > maxInputBytes:
			return nil, badRequest("input[%d]: longer than %d bytes.", len(emails), maxInputBytes)
		case strings.TrimSpace(s) == "":
			return nil, badRequest("input[%d]: empty address.", len(emails))
		}
		emails = append(emails, s)
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return nil, decodeError(err)
	}
	return emails, nil
}

// maxWebhookBytes bounds the webhook object, which travels in every queue
// message of the job (each at most 256 KiB).
const maxWebhookBytes = 16 << 10

// decodeWebhook checks the webhook object and returns it compacted, or nil
// for null or an object without on_each_email.
func decodeWebhook(dec *json.Decoder) (json.RawMessage, error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, decodeError(err)
	}
	if bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if len(raw) > maxWebhookBytes {
		return nil, &requestError{status: http.StatusRequestEntityTooLarge,
			msg: "webhook field is larger than " + strconv.Itoa(maxWebhookBytes) + " bytes."}
	}
	var wh webhookJSON
	if err := json.Unmarshal(raw, &wh); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			field := "webhook"
			if typ.Field != "" {
				field += "." + typ.Field
			}
			return nil, badRequest("Field %s must be %s, not %s.", field, jsonKind(typ.Type), typ.Value)
		}
		return nil, badRequest("webhook field is not valid JSON.")
	}
	if wh.OnEachEmail == nil {
		return nil, nil
	}
	if err := checkWebhook(wh.OnEachEmail.URL, wh.OnEachEmail.Headers); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, badRequest("webhook field is not valid JSON.")
	}
	return buf.Bytes(), nil
}

// checkWebhook refuses, at job creation, what would make every POST of the
// worker fail later: a URL that is not absolute http(s) with a host, and
// header names or values that are not valid HTTP fields (RFC 9110 §5.1,
// §5.5: a CR or LF would split the request).
func checkWebhook(rawURL string, headers map[string]string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Opaque != "" {
		return badRequest("webhook.on_each_email.url must be an absolute http or https URL.")
	}
	names := make([]string, 0, len(headers))
	for name := range headers {
		names = append(names, name)
	}
	slices.Sort(names) // report the same header every time
	for _, name := range names {
		if !httpguts.ValidHeaderFieldName(name) {
			return badRequest("webhook.on_each_email.headers: %q is not a valid header name.", name)
		}
		if !httpguts.ValidHeaderFieldValue(headers[name]) {
			return badRequest("webhook.on_each_email.headers: the value of %q is not a valid header value (no control characters such as CR or LF).", name)
		}
	}
	return nil
}
