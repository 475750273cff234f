package awscalls

import (
	"net/url"
	"slices"
	"strings"
)

// servicePrefixes maps the SDK's service ids to IAM's action prefixes.
var servicePrefixes = map[string]string{
	"DynamoDB":        "dynamodb",
	"SQS":             "sqs",
	"SSM":             "ssm",
	"Secrets Manager": "secretsmanager",
	"S3":              "s3",
	"KMS":             "kms",
	"STS":             "sts",
	"CloudWatch Logs": "logs",
	"CloudWatch":      "cloudwatch",
	"XRay":            "xray",
}

// Prefix is the IAM action prefix of the call's service.
func (c Call) Prefix() string {
	if p, ok := servicePrefixes[c.Service]; ok {
		return p
	}
	return strings.ToLower(strings.ReplaceAll(c.Service, " ", ""))
}

// sameAction maps operations that IAM authorizes under another action's
// name (IAM has no sqs:SendMessageBatch: a batch needs sqs:SendMessage).
var sameAction = map[string][]string{
	"sqs:SendMessageBatch":             {"SendMessage"},
	"sqs:DeleteMessageBatch":           {"DeleteMessage"},
	"sqs:ChangeMessageVisibilityBatch": {"ChangeMessageVisibility"},
	"dynamodb:TransactGetItems":        {"GetItem"},
	"s3:HeadObject":                    {"GetObject", "ListBucket"},
	"s3:HeadBucket":                    {"ListBucket"},
	"s3:ListObjectsV2":                 {"ListBucket"},
	"s3:ListObjects":                   {"ListBucket"},
	"s3:CreateMultipartUpload":         {"PutObject"},
	"s3:UploadPart":                    {"PutObject"},
	"s3:CompleteMultipartUpload":       {"PutObject"},
	"s3:CopyObject":                    {"PutObject", "GetObject"},
}

// transactItemActions are the IAM actions TransactWriteItems needs per item.
var transactItemActions = map[string]string{
	"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem",
}

// Actions are the IAM actions the call needs ("dynamodb:PutItem").
func (c Call) Actions() []string {
	prefix := c.Prefix()
	if c.Operation == "TransactWriteItems" && prefix == "dynamodb" {
		var out []string
		for _, k := range c.Transact {
			a := prefix + ":" + transactItemActions[k]
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
		return out
	}
	if ops, ok := sameAction[prefix+":"+c.Operation]; ok {
		out := make([]string, len(ops))
		for i, op := range ops {
			out[i] = prefix + ":" + op
		}
		return out
	}
	return []string{prefix + ":" + c.Operation}
}

// Need is an IAM action on a resource that a call needs.
type Need struct {
	Action   string // "s3:GetObject"
	Resource string // its ARN; "" when the call names none
}

// Needs lists what the call needs, each action on the resource IAM checks
// it against: ARN, except for s3:ListBucket, which is checked against the
// bucket. HeadObject needs both s3:GetObject on the object and
// s3:ListBucket on the bucket, because S3 answers a missing key 404 only
// to a caller allowed to list the bucket (403 otherwise), and existence
// is what a HEAD is asked for.
func (c Call) Needs(region, account string) []Need {
	arn := c.ARN(region, account)
	var out []Need
	for _, a := range c.Actions() {
		res := arn
		if a == "s3:ListBucket" && c.Resource["Bucket"] != "" {
			res = "arn:aws:s3:::" + c.Resource["Bucket"]
		}
		out = append(out, Need{Action: a, Resource: res})
	}
	return out
}

// ARN is the resource the call acts on, as IAM names it, in region and
// account (the emulators' queue URLs carry their own account, which wins);
// "" when the call names none. A secret named without its ARN gets the six
// characters Secrets Manager appends to a name, as "-AbCdEf".
func (c Call) ARN(region, account string) string {
	res := c.Resource
	switch c.Prefix() {
	case "dynamodb":
		table, _, _ := strings.Cut(res["TableName"], ",")
		if table == "" {
			return ""
		}
		arn := "arn:aws:dynamodb:" + region + ":" + account + ":table/" + table
		if idx := res["IndexName"]; idx != "" {
			arn += "/index/" + idx
		}
		return arn
	case "sqs":
		return queueARN(res["QueueUrl"], region, account)
	case "ssm":
		name := res["Name"]
		switch {
		case name == "":
			return ""
		case strings.HasPrefix(name, "arn:"):
			return name
		}
		return "arn:aws:ssm:" + region + ":" + account + ":parameter/" + strings.TrimPrefix(name, "/")
	case "secretsmanager":
		id := res["SecretId"]
		switch {
		case id == "":
			return ""
		case strings.HasPrefix(id, "arn:"):
			return id
		}
		return "arn:aws:secretsmanager:" + region + ":" + account + ":secret:" + id + "-AbCdEf"
	case "s3":
		switch {
		case res["Bucket"] == "":
			return ""
		case res["Key"] != "":
			return "arn:aws:s3:::" + res["Bucket"] + "/" + res["Key"]
		}
		return "arn:aws:s3:::" + res["Bucket"]
	}
	return ""
}

// queueARN turns a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME,
// or an emulator's http://HOST/ACCOUNT/NAME) into the queue's ARN.
func queueARN(queueURL, region, account string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[1] == "" {
		return ""
	}
	if parts[0] != "" {
		account = parts[0]
	}
	return "arn:aws:sqs:" + region + ":" + account + ":" + parts[1]
}
