package reacher

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// This file describes, as Go values, the JSON that Reacher's backend writes:
// the facts come from Reacher's source (core/src/util/input_output.rs, the
// structs of core/src/{misc,mx,smtp,syntax}, backend/src/http/v{0,1}/bulk,
// backend/src/http/version); nothing of Reacher's is copied. Serde writes
// a struct's fields in declaration order, so objects are checked in order.
// A field Reacher does not have is an error unless it is one of mailprobe's
// documented additions (extras), which clients skip: serde ignores unknown
// fields unless told otherwise.

// value is a JSON value with its object keys in document order.
type value struct {
	kind byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys []string
	obj  map[string]value
	arr  []value
	str  string
	num  json.Number
	b    bool
}

// parse decodes one JSON document keeping the order of object keys.
func parse(data []byte) (value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return value{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return value{}, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (value, error) {
	tok, err := dec.Token()
	if err != nil {
		return value{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			v := value{kind: 'a'}
			for dec.More() {
				e, err := parseValue(dec)
				if err != nil {
					return value{}, err
				}
				v.arr = append(v.arr, e)
			}
			_, err := dec.Token()
			return v, err
		}
		v := value{kind: 'o', obj: map[string]value{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return value{}, err
			}
			e, err := parseValue(dec)
			if err != nil {
				return value{}, err
			}
			v.keys = append(v.keys, k.(string))
			v.obj[k.(string)] = e
		}
		_, err := dec.Token()
		return v, err
	case string:
		return value{kind: 's', str: t}, nil
	case json.Number:
		return value{kind: 'n', num: t}, nil
	case bool:
		return value{kind: 'b', b: t}, nil
	}
	return value{kind: 'z'}, nil
}

// shape checks a value, appending what is wrong to errs.
type shape interface {
	check(v value, path string, errs *[]string)
}

type (
	str struct {
		enum     []string
		nullable bool
		dateTime bool
		nonEmpty bool
	}
	integer struct {
		min, max int64
		nullable bool
	}
	boolean struct{ nullable bool }
	array   struct{ item shape }
	anyJSON struct{}
	// object is a struct: fields in Reacher's order, then mailprobe's
	// documented extras, which may be absent.
	object struct {
		fields []field
		extras []field
	}
	field struct {
		name string
		s    shape
	}
	// oneOf passes when one of its shapes does (Rust enums and Results).
	oneOf []shape
	// nullable wraps a shape that may also be null (Option<T>).
	nullable struct{ s shape }
)

func bad(errs *[]string, path, format string, args ...any) {
	*errs = append(*errs, path+": "+fmt.Sprintf(format, args...))
}

func (s str) check(v value, path string, errs *[]string) {
	switch {
	case v.kind == 'z' && s.nullable:
	case v.kind != 's':
		bad(errs, path, "want a string, got %s", kindName(v))
	case len(s.enum) > 0 && !slices.Contains(s.enum, v.str):
		bad(errs, path, "%q is not one of Reacher's %v", v.str, s.enum)
	case s.nonEmpty && v.str == "":
		bad(errs, path, "empty")
	case s.dateTime:
		if _, err := time.Parse(time.RFC3339Nano, v.str); err != nil {
			bad(errs, path, "%q is not an RFC 3339 date-time", v.str)
		}
	}
}

func (s integer) check(v value, path string, errs *[]string) {
	if v.kind == 'z' && s.nullable {
		return
	}
	if v.kind != 'n' {
		bad(errs, path, "want an integer, got %s", kindName(v))
		return
	}
	n, err := v.num.Int64()
	if err != nil || n < s.min || n > s.max {
		bad(errs, path, "%s is not an integer in [%d, %d]", v.num, s.min, s.max)
	}
}

func (s boolean) check(v value, path string, errs *[]string) {
	if v.kind != 'b' && !(s.nullable && v.kind == 'z') {
		bad(errs, path, "want a boolean, got %s", kindName(v))
	}
}

func (s array) check(v value, path string, errs *[]string) {
	if v.kind != 'a' {
		bad(errs, path, "want an array, got %s", kindName(v))
		return
	}
	for i, e := range v.arr {
		s.item.check(e, fmt.Sprintf("%s[%d]", path, i), errs)
	}
}

func (anyJSON) check(value, string, *[]string) {}

func (s nullable) check(v value, path string, errs *[]string) {
	if v.kind != 'z' {
		s.s.check(v, path, errs)
	}
}

func (s object) check(v value, path string, errs *[]string) {
	if v.kind != 'o' {
		bad(errs, path, "want an object, got %s", kindName(v))
		return
	}
	var order []string
	for _, f := range s.fields {
		e, ok := v.obj[f.name]
		if !ok {
			bad(errs, path, "missing Reacher's field %q", f.name)
			continue
		}
		order = append(order, f.name)
		f.s.check(e, path+"."+f.name, errs)
	}
	known := map[string]bool{}
	for _, f := range s.fields {
		known[f.name] = true
	}
	var got []string
	for _, k := range v.keys {
		if known[k] {
			got = append(got, k)
			continue
		}
		i := slices.IndexFunc(s.extras, func(f field) bool { return f.name == k })
		if i < 0 {
			bad(errs, path, "field %q is neither Reacher's nor a documented mailprobe addition", k)
			continue
		}
		s.extras[i].s.check(v.obj[k], path+"."+k, errs)
	}
	if !slices.Equal(got, order) {
		bad(errs, path, "Reacher's fields in order %v, want %v", got, order)
	}
}

func (s oneOf) check(v value, path string, errs *[]string) {
	var all []string
	for _, alt := range s {
		var e []string
		alt.check(v, path, &e)
		if len(e) == 0 {
			return
		}
		all = append(all, strings.Join(e, "; "))
	}
	bad(errs, path, "matches none of the alternatives: %s", strings.Join(all, " | "))
}

func kindName(v value) string {
	return map[byte]string{'o': "an object", 'a': "an array", 's': "a string", 'n': "a number", 'b': "a boolean", 'z': "null"}[v.kind]
}

// Integer ranges of Reacher's Rust types.
var (
	i32   = integer{min: 1, max: 1<<31 - 1} // Postgres serial ids, counts
	count = integer{min: 0, max: 1<<31 - 1}
	u16   = integer{min: 0, max: 1<<16 - 1}
	u32   = integer{min: 0, max: 1<<32 - 1}
	u64   = integer{min: 0, max: 1<<63 - 1}
)

// duration is Rust's std::time::Duration as serde writes it.
var duration = object{fields: []field{{"secs", u64}, {"nanos", u32}}}

// The enums Reacher's clients deserialise.
var (
	reachable = str{enum: []string{"safe", "risky", "invalid", "unknown"}}
	// SmtpError's variants (core/src/smtp/error.rs): serde's adjacently
	// tagged form, {"type": <variant>, "message": <content>}.
	smtpErrorTypes = []string{"YahooError", "GmailError", "HeadlessError", "Microsoft365Error",
		"AsyncSmtpError", "IOError", "Timeout", "Socks5", "AnyhowError"}
	mxErrorTypes  = []string{"IoError", "ResolveError"}
	smtpErrorDesc = str{enum: []string{"IpBlacklisted", "NeedsRDNS"}}
)

// cause is mailprobe's documented addition to an error object.
var cause = field{"cause", str{nonEmpty: true}}

// errorObject is Reacher's serialisation of a failed step: {"error":
// {"type","message"}} plus, for smtp, an optional "description". Timeout's
// message is its Duration; the others' a string.
func errorObject(types []string, desc bool) shape {
	types = slices.DeleteFunc(slices.Clone(types), func(s string) bool { return s == "Timeout" })
	msg := oneOf{
		object{fields: []field{{"type", str{enum: []string{"Timeout"}}}, {"message", duration}}},
		object{fields: []field{{"type", str{enum: types}}, {"message", str{}}}},
	}
	o := object{fields: []field{{"error", msg}}, extras: []field{cause}}
	if desc {
		o.extras = append(o.extras, field{"description", smtpErrorDesc})
	}
	return o
}

// checkEmailOutput is Reacher's CheckEmailOutput (core/src/util/
// input_output.rs) with the structs it holds.
var checkEmailOutput = object{fields: []field{
	{"input", str{}},
	{"is_reachable", reachable},
	{"misc", object{fields: []field{ // MiscDetails; MiscError has no variant
		{"is_disposable", boolean{}}, {"is_role_account", boolean{}}, {"is_b2c", boolean{}},
		{"gravatar_url", str{nullable: true}}, {"haveibeenpwned", boolean{nullable: true}},
	}}},
	{"mx", oneOf{
		object{fields: []field{{"accepts_mail", boolean{}}, {"records", array{str{nonEmpty: true}}}}},
		errorObject(mxErrorTypes, false),
	}},
	{"smtp", oneOf{
		object{fields: []field{{"can_connect_smtp", boolean{}}, {"has_full_inbox", boolean{}},
			{"is_catch_all", boolean{}}, {"is_deliverable", boolean{}}, {"is_disabled", boolean{}}}},
		errorObject(smtpErrorTypes, true),
	}},
	{"syntax", object{fields: []field{
		{"address", str{nullable: true}}, {"domain", str{}}, {"is_valid_syntax", boolean{}},
		{"username", str{}}, {"normalized_email", str{nullable: true}}, {"suggestion", str{nullable: true}},
	}}},
	{"debug", object{
		fields: []field{
			{"backend_name", str{}}, {"start_time", str{dateTime: true}}, {"end_time", str{dateTime: true}},
			{"duration", duration},
			{"smtp", object{fields: []field{{"verif_method", oneOf{
				// SmtpDebugVerifMethod, internally tagged by "type".
				object{fields: []field{{"type", str{enum: []string{"Smtp"}}}, {"host", str{nonEmpty: true}},
					{"verif_method", object{fields: []field{ // VerifMethodSmtpConfig
						{"from_email", str{}}, {"hello_name", str{}}, {"proxy", str{nullable: true}},
						{"smtp_port", u16}, {"smtp_timeout", nullable{duration}}, {"retries", u64},
					}}}}},
				object{fields: []field{{"type", str{enum: []string{"Api", "Headless", "Skipped"}}}}},
			}}}}},
		},
		extras: []field{{"mailprobe", anyJSON{}}},
	}},
}}

// The bulk routes' bodies (backend/src/http/v0/bulk, v1/bulk).
var (
	bulkCreated = object{fields: []field{{"job_id", i32}}}
	bulkStatus  = object{
		fields: []field{
			{"job_id", i32}, {"created_at", str{dateTime: true}}, {"finished_at", str{dateTime: true, nullable: true}},
			{"total_records", count}, {"total_processed", count},
			{"summary", object{fields: []field{{"total_safe", count}, {"total_risky", count},
				{"total_invalid", count}, {"total_unknown", count}}}},
			{"job_status", str{enum: []string{"Running", "Completed"}}},
		},
		extras: []field{{"waiting_for_retry", count}, {"next_retry_at", str{dateTime: true, nullable: true}}},
	}
	bulkResults = object{fields: []field{{"results", array{checkEmailOutput}}},
		extras: []field{{"job_status", str{enum: []string{"Running", "Completed"}}}}}
	// errorBody is ReacherResponseError's serialisation.
	errorBody   = object{fields: []field{{"error", str{nonEmpty: true}}}}
	versionBody = object{fields: []field{{"version", str{nonEmpty: true}}}, extras: []field{{"commit", str{}}}}
	// webhookBody is the worker's WebhookOutput (backend/src/worker/do_work.rs).
	webhookBody = object{fields: []field{{"result", checkEmailOutput}, {"extra", anyJSON{}}}}
)

// csvColumns is the header of Reacher's CSV export (the serde names of
// CsvResponse in backend/src/http/v1/bulk/get_results/csv_helper.rs).
var csvColumns = []string{"input", "is_reachable", "misc.is_disposable", "misc.is_role_account",
	"misc.gravatar_url", "mx.accepts_mail", "smtp.can_connect", "smtp.has_full_inbox", "smtp.is_catch_all",
	"smtp.is_deliverable", "smtp.is_disabled", "syntax.is_valid_syntax", "syntax.domain", "syntax.username", "error"}

// validate parses body and checks it against s.
func validate(body []byte, s shape) []string {
	v, err := parse(body)
	if err != nil {
		return []string{fmt.Sprintf("not JSON: %v: %.200q", err, body)}
	}
	var errs []string
	s.check(v, "$", &errs)
	return errs
}
