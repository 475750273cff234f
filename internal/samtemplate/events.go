package samtemplate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Route is an HttpApi event: a route of an HTTP API that invokes the
// function.
type Route struct {
	Function string // logical id of the function
	Event    string // the event's name
	API      string // logical id of the AWS::Serverless::HttpApi; "" for SAM's implicit API
	Method   string // upper case; "ANY" matches every method
	Path     string // /v1/bulk/{job_id}; "" for the $default route
	// PayloadFormatVersion is "2.0" (SAM's default for HttpApi) or "1.0".
	PayloadFormatVersion string
	Timeout              time.Duration // TimeoutInMillis; 0 when unset
}

// Key is API Gateway's route key: "POST /v1/bulk", or "$default".
func (r Route) Key() string {
	if r.Path == "" {
		return "$default"
	}
	return r.Method + " " + r.Path
}

// Routes lists the HttpApi routes of every function, in template order.
func (t *Template) Routes(r *Resolver) ([]Route, error) {
	var out []Route
	for _, f := range t.Functions() {
		for _, e := range f.Events() {
			if e.Type != "HttpApi" {
				continue
			}
			rt, err := httpRoute(r, f.ID, e)
			if err != nil {
				return nil, err
			}
			out = append(out, rt)
		}
	}
	return out, nil
}

func httpRoute(r *Resolver, fn string, e Event) (Route, error) {
	rt := Route{Function: fn, Event: e.Name, Method: "ANY", PayloadFormatVersion: "2.0"}
	fail := func(err error) (Route, error) { return Route{}, fmt.Errorf("%s event %s: %w", fn, e.Name, err) }
	if n := e.Prop("ApiId"); n != nil {
		rt.API = refTarget(n)
	}
	var err error
	for key, dst := range map[string]*string{"Method": &rt.Method, "Path": &rt.Path, "PayloadFormatVersion": &rt.PayloadFormatVersion} {
		if n := e.Prop(key); n != nil {
			if *dst, err = r.String(n); err != nil {
				return fail(err)
			}
		}
	}
	rt.Method = strings.ToUpper(rt.Method)
	if rt.Method == "X-AMAZON-APIGATEWAY-ANY-METHOD" || rt.Method == "*" {
		rt.Method = "ANY"
	}
	if n := e.Prop("TimeoutInMillis"); n != nil {
		ms, err := r.int(n)
		if err != nil {
			return fail(err)
		}
		rt.Timeout = time.Duration(ms) * time.Millisecond
	}
	return rt, nil
}

// SQSEvent is an SQS event source mapping of a function.
type SQSEvent struct {
	Function string // logical id of the function
	Event    string // the event's name
	// Queue is the logical id of the queue (from !GetAtt Q.Arn); QueueARN
	// is set instead when the template names a queue outside the stack.
	Queue, QueueARN string
	BatchSize       int           // default 10
	BatchingWindow  time.Duration // MaximumBatchingWindowInSeconds; default 0
	// ReportBatchItemFailures: the function's response lists the failed
	// records, and only those stay on the queue.
	ReportBatchItemFailures bool
	// MaximumConcurrency is ScalingConfig.MaximumConcurrency; 0 when unset.
	MaximumConcurrency int
	Enabled            bool // default true
	// Ignored lists properties present in the template that the typed
	// fields do not model (FilterCriteria, MetricsConfig, ...).
	Ignored []string
}

// sqsModelled lists the SQS event properties SQSEvent models.
var sqsModelled = []string{"Queue", "BatchSize", "MaximumBatchingWindowInSeconds",
	"FunctionResponseTypes", "ScalingConfig", "Enabled"}

// SQSEvents lists the SQS events of every function, in template order.
func (t *Template) SQSEvents(r *Resolver) ([]SQSEvent, error) {
	var out []SQSEvent
	for _, f := range t.Functions() {
		for _, e := range f.Events() {
			if e.Type != "SQS" {
				continue
			}
			ev, err := sqsEvent(r, f.ID, e)
			if err != nil {
				return nil, fmt.Errorf("%s event %s: %w", f.ID, e.Name, err)
			}
			out = append(out, ev)
		}
	}
	return out, nil
}

func sqsEvent(r *Resolver, fn string, e Event) (SQSEvent, error) {
	ev := SQSEvent{Function: fn, Event: e.Name, BatchSize: 10, Enabled: true}
	q := e.Prop("Queue")
	if q == nil {
		return ev, fmt.Errorf("no Queue")
	}
	if ev.Queue = refTarget(q); ev.Queue == "" {
		arn, err := r.String(q)
		if err != nil {
			return ev, err
		}
		ev.QueueARN = arn
	}
	var err error
	if n := e.Prop("BatchSize"); n != nil {
		if ev.BatchSize, err = r.int(n); err != nil {
			return ev, err
		}
	}
	if n := e.Prop("MaximumBatchingWindowInSeconds"); n != nil {
		secs, err := r.int(n)
		if err != nil {
			return ev, err
		}
		ev.BatchingWindow = time.Duration(secs) * time.Second
	}
	if n := e.Prop("FunctionResponseTypes"); n != nil {
		types, err := r.list(n)
		if err != nil {
			return ev, err
		}
		ev.ReportBatchItemFailures = slices.Contains(types, any("ReportBatchItemFailures"))
	}
	if n := e.Prop("ScalingConfig", "MaximumConcurrency"); n != nil {
		if ev.MaximumConcurrency, err = r.int(n); err != nil {
			return ev, err
		}
	}
	if n := e.Prop("Enabled"); n != nil {
		s, err := r.String(n)
		if err != nil {
			return ev, err
		}
		if ev.Enabled, err = strconv.ParseBool(s); err != nil {
			return ev, fmt.Errorf("property Enabled: %w", err)
		}
	}
	for _, name := range e.PropertyNames() {
		if !slices.Contains(sqsModelled, name) {
			ev.Ignored = append(ev.Ignored, name)
		}
	}
	return ev, nil
}

// refTarget returns the logical id a node refers to with !Ref X or
// !GetAtt X.Attr (short or long form), or "".
func refTarget(n *yaml.Node) string {
	name, arg, ok := intrinsic(n)
	if !ok {
		return ""
	}
	switch name {
	case "Ref":
		return arg.Value
	case "Fn::GetAtt":
		res, _, err := getAttTarget(arg)
		if err == nil {
			return res
		}
	}
	return ""
}
