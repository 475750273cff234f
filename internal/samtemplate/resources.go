package samtemplate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Resource types with typed views.
const (
	QueueType = "AWS::SQS::Queue"
	TableType = "AWS::DynamoDB::Table"
)

// SQS's default visibility timeout, used when a queue declares none.
const DefaultVisibilityTimeout = 30 * time.Second

// Queue is an AWS::SQS::Queue.
type Queue struct {
	ID   string
	Name string // QueueName; "" when CloudFormation names it
	// Attributes are the properties as SQS CreateQueue attributes
	// (VisibilityTimeout, MessageRetentionPeriod, RedrivePolicy as JSON,
	// SqsManagedSseEnabled, FifoQueue, ...): CloudFormation's property
	// names are SQS's attribute names.
	Attributes map[string]string
	// DeadLetterQueue is the logical id of the redrive target, or "".
	DeadLetterQueue   string
	MaxReceiveCount   int
	VisibilityTimeout time.Duration
}

// QueueDeadLetterTarget returns the logical id a queue's RedrivePolicy
// sends messages to, without evaluating anything: the queue to create
// first.
func (t *Template) QueueDeadLetterTarget(id string) string {
	res, ok := t.Resource(id)
	if !ok {
		return ""
	}
	return refTarget(res.Property("RedrivePolicy", "deadLetterTargetArn"))
}

// Queue evaluates the queue id. Its RedrivePolicy needs the dead-letter
// queue's Arn in the Stack's Attrs.
func (t *Template) Queue(id string, r *Resolver) (Queue, error) {
	res, ok := t.Resource(id)
	if !ok || res.Type != QueueType {
		return Queue{}, fmt.Errorf("samtemplate: no queue %s", id)
	}
	props, err := r.Value(get(res.node, "Properties"))
	if err != nil {
		return Queue{}, fmt.Errorf("queue %s: %w", id, err)
	}
	m, _ := props.(map[string]any)
	q := Queue{ID: id, Attributes: map[string]string{}, VisibilityTimeout: DefaultVisibilityTimeout,
		DeadLetterQueue: t.QueueDeadLetterTarget(id)}
	for _, k := range sortedKeys(m) {
		switch v := m[k].(type) {
		case string:
			q.Attributes[k] = v
		case map[string]any: // RedrivePolicy, RedriveAllowPolicy
			b, err := json.Marshal(numbers(v))
			if err != nil {
				return Queue{}, fmt.Errorf("queue %s %s: %w", id, k, err)
			}
			q.Attributes[k] = string(b)
		}
	}
	q.Name = q.Attributes["QueueName"]
	delete(q.Attributes, "QueueName")
	if v, ok := q.Attributes["VisibilityTimeout"]; ok {
		secs, err := strconv.Atoi(v)
		if err != nil {
			return Queue{}, fmt.Errorf("queue %s VisibilityTimeout: %q is not an integer", id, v)
		}
		q.VisibilityTimeout = time.Duration(secs) * time.Second
	}
	if rp, ok := m["RedrivePolicy"].(map[string]any); ok {
		if q.MaxReceiveCount, err = strconv.Atoi(fmt.Sprint(rp["maxReceiveCount"])); err != nil {
			return Queue{}, fmt.Errorf("queue %s RedrivePolicy.maxReceiveCount: %w", id, err)
		}
	}
	return q, nil
}

// numbers turns the numeric strings of a redrive policy into JSON numbers,
// as SQS writes them.
func numbers(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				out[k] = n
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Table is an AWS::DynamoDB::Table.
type Table struct {
	ID                     string
	Name                   string `json:"TableName"` // "" when CloudFormation names it
	BillingMode            string
	AttributeDefinitions   []AttributeDefinition
	KeySchema              []KeyElement
	GlobalSecondaryIndexes []Index
	LocalSecondaryIndexes  []Index
	ProvisionedThroughput  *Throughput
	TimeToLive             *TimeToLive `json:"TimeToLiveSpecification"`
	StreamSpecification    *struct{ StreamViewType string }
	// Ignored lists properties present in the template that the typed
	// fields do not model (PointInTimeRecoverySpecification,
	// SSESpecification, Tags, ...).
	Ignored []string `json:"-"`
}

// AttributeDefinition declares a key attribute's type (S, N, B).
type AttributeDefinition struct{ AttributeName, AttributeType string }

// KeyElement is one key of a key schema (HASH or RANGE).
type KeyElement struct{ AttributeName, KeyType string }

// Index is a global or local secondary index.
type Index struct {
	IndexName             string
	KeySchema             []KeyElement
	Projection            Projection
	ProvisionedThroughput *Throughput
}

// Projection says which attributes an index holds.
type Projection struct {
	ProjectionType   string
	NonKeyAttributes []string
}

// Throughput is provisioned capacity.
type Throughput struct {
	ReadCapacityUnits  int64 `json:",string"`
	WriteCapacityUnits int64 `json:",string"`
}

// TimeToLive is the table's TTL attribute.
type TimeToLive struct {
	AttributeName string
	Enabled       bool `json:",string"`
}

// tableModelled lists the table properties Table models.
var tableModelled = []string{"TableName", "BillingMode", "AttributeDefinitions", "KeySchema",
	"GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput",
	"TimeToLiveSpecification", "StreamSpecification"}

// Table evaluates the table id.
func (t *Template) Table(id string, r *Resolver) (Table, error) {
	res, ok := t.Resource(id)
	if !ok || res.Type != TableType {
		return Table{}, fmt.Errorf("samtemplate: no table %s", id)
	}
	props, err := r.Value(get(res.node, "Properties"))
	if err != nil {
		return Table{}, fmt.Errorf("table %s: %w", id, err)
	}
	// Evaluated values are maps, lists and strings, as in a JSON
	// template: decoding them into the typed view checks their shape.
	b, err := json.Marshal(props)
	if err != nil {
		return Table{}, fmt.Errorf("table %s: %w", id, err)
	}
	tb := Table{ID: id}
	if err := json.Unmarshal(b, &tb); err != nil {
		return Table{}, fmt.Errorf("table %s: %w", id, err)
	}
	for _, name := range res.PropertyNames() {
		if !slices.Contains(tableModelled, name) {
			tb.Ignored = append(tb.Ignored, name)
		}
	}
	return tb, nil
}

// References lists the logical ids of resources a resource's properties
// refer to (Ref, Fn::GetAtt, Fn::Sub), for creating resources in order.
func (t *Template) References(id string) []string {
	res, ok := t.Resource(id)
	if !ok {
		return nil
	}
	var out []string
	add := func(name string) {
		if _, ok := t.Resource(name); ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if target := refTarget(n); target != "" {
			add(target)
		}
		if name, arg, ok := intrinsic(n); ok && name == "Fn::Sub" {
			s := arg
			if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
				s = arg.Content[0]
			}
			for _, v := range subNames(s.Value) {
				add(v)
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(get(res.node, "Properties"))
	return out
}

// AttributesUsed lists every "Resource.Attribute" the template reads with
// Fn::GetAtt or Fn::Sub, in order of appearance, so that a caller can give
// each a value.
func (t *Template) AttributesUsed() []string {
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		if name, arg, ok := intrinsic(n); ok {
			switch name {
			case "Fn::GetAtt":
				if res, attr, err := getAttTarget(arg); err == nil {
					add(res + "." + attr)
				}
			case "Fn::Sub":
				s := arg
				if arg.Kind == yaml.SequenceNode && len(arg.Content) > 0 {
					s = arg.Content[0]
				}
				for _, v := range subAttrs(s.Value) {
					add(v)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(t.root)
	return out
}
