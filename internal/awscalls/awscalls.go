// Package awscalls records the AWS API operations a process performs and
// names the IAM action and resource each one needs, so that tests can hold a
// function's IAM policy to what its code really calls.
//
// Recording is off in production: the Lambda entry points attach the
// middleware only when EnvRecord names a file (tests set it). The file holds
// one JSON object per operation, appended as the calls are made.
package awscalls

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// EnvRecord names the file a Lambda entry point appends its AWS calls to.
// Test-only: unset in every deployment.
const EnvRecord = "MAILPROBE_RECORD_AWS_CALLS"

// Call is one AWS API operation and the resource it named.
type Call struct {
	Service   string `json:"service"`   // the SDK's service id: DynamoDB, SQS, SSM, Secrets Manager, S3
	Operation string `json:"operation"` // PutItem, SendMessageBatch, GetParameter, ...
	// Resource identifiers found in the input, by field name: TableName,
	// IndexName, QueueUrl, Name (SSM), SecretId, Bucket, Key.
	Resource map[string]string `json:"resource,omitempty"`
	// Transact lists the item actions of a TransactWriteItems call (Put,
	// Update, Delete, ConditionCheck), which IAM authorizes one by one.
	Transact []string `json:"transact,omitempty"`
}

// resourceFields are the input fields that name the resource of a call.
var resourceFields = []string{"TableName", "IndexName", "QueueUrl", "Name", "SecretId", "Bucket", "Key"}

// Recorder writes one line per call to w.
type Recorder struct {
	mu sync.Mutex
	w  io.Writer
}

// NewRecorder returns a Recorder writing to w.
func NewRecorder(w io.Writer) *Recorder { return &Recorder{w: w} }

// Open returns a Recorder appending to the file path, or nil when path is
// empty. The file stays open for the life of the process, as a Lambda
// execution environment's does.
func Open(path string) (*Recorder, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("awscalls: %w", err)
	}
	return NewRecorder(f), nil
}

// APIOptions returns the client options that record every operation (for
// config.WithAPIOptions), or nil for a nil Recorder.
func (r *Recorder) APIOptions() []func(*middleware.Stack) error {
	if r == nil {
		return nil
	}
	return []func(*middleware.Stack) error{func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("awscalls.Record",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
				middleware.InitializeOutput, middleware.Metadata, error,
			) {
				r.record(Call{
					Service:   awsmiddleware.GetServiceID(ctx),
					Operation: awsmiddleware.GetOperationName(ctx),
					Resource:  resources(in.Parameters),
					Transact:  transactActions(in.Parameters),
				})
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}}
}

func (r *Recorder) record(c Call) {
	b, err := json.Marshal(c)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = r.w.Write(append(b, '\n')) // a lost line shows up as a missing call in the test
}

// resources reads the resource identifiers of an operation's input (a
// pointer to the SDK's input struct): string fields named in
// resourceFields, and the table names of BatchWriteItem/BatchGetItem.
func resources(params any) map[string]string {
	v := reflect.ValueOf(params)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	out := map[string]string{}
	for _, name := range resourceFields {
		if s, ok := stringField(v.FieldByName(name)); ok {
			out[name] = s
		}
	}
	if items := v.FieldByName("RequestItems"); items.IsValid() && items.Kind() == reflect.Map {
		var tables []string
		for _, k := range items.MapKeys() {
			tables = append(tables, k.String())
		}
		if len(tables) > 0 {
			out["TableName"] = strings.Join(tables, ",")
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func stringField(f reflect.Value) (string, bool) {
	if !f.IsValid() {
		return "", false
	}
	if f.Kind() == reflect.Pointer {
		if f.IsNil() || f.Elem().Kind() != reflect.String {
			return "", false
		}
		return f.Elem().String(), true
	}
	if f.Kind() == reflect.String && f.String() != "" {
		return f.String(), true
	}
	return "", false
}

// transactActions lists the item actions of a TransactWriteItems input.
func transactActions(params any) []string {
	v := reflect.ValueOf(params)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return nil
	}
	items := v.FieldByName("TransactItems")
	if !items.IsValid() || items.Kind() != reflect.Slice {
		return nil
	}
	var out []string
	for i := range items.Len() {
		it := reflect.Indirect(items.Index(i))
		for _, kind := range []string{"Put", "Update", "Delete", "ConditionCheck", "Get"} {
			if f := it.FieldByName(kind); f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil() {
				out = append(out, kind)
			}
		}
	}
	return out
}

// Read parses a file written by a Recorder.
func Read(r io.Reader) ([]Call, error) {
	var out []Call
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var c Call
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("awscalls: line %d: %w", n, err)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}
