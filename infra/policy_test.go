package infra

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestNoWildcardActions walks every IAM statement in the template (inline
// policies, policy documents, role policies) and refuses "*" and
// "service:*" actions.
func TestNoWildcardActions(t *testing.T) {
	root := openNode(t)
	walk(root, func(n *yaml.Node) {
		for _, p := range pairs(n) {
			if p[0].Value != "Action" && p[0].Value != "NotAction" {
				continue
			}
			vals := []*yaml.Node{p[1]}
			if p[1].Kind == yaml.SequenceNode {
				vals = p[1].Content
			}
			for _, v := range vals {
				if v.Value == "*" || strings.HasSuffix(v.Value, ":*") {
					t.Errorf("line %d: IAM action %q grants a whole service", v.Line, v.Value)
				}
			}
		}
	})
}

// allowedPolicyTemplates are the SAM policy templates the functions may use,
// each with the one property that scopes it to a resource of this stack.
var allowedPolicyTemplates = map[string]string{
	"DynamoDBCrudPolicy":                    "TableName",
	"SQSSendMessagePolicy":                  "QueueName",
	"SSMParameterReadPolicy":                "ParameterName",
	"AWSSecretsManagerGetSecretValuePolicy": "SecretArn",
}

// conditionalPolicies may only be granted under a Condition (!If), because
// only some deployments keep the header secret in SSM or Secrets Manager.
var conditionalPolicies = []string{"SSMParameterReadPolicy", "AWSSecretsManagerGetSecretValuePolicy"}

// inlineActions are the only actions an inline policy statement may grant,
// each with the one resource of this stack it may name: a !GetAtt target,
// or, for objects, a !Sub pattern under a bucket of this stack.
var inlineActions = map[string]string{
	"sqs:ChangeMessageVisibility": "JobQueue.Arn", // the worker shortens redelivery waits
	// The API writes and presigns full result exports, and tells a missing
	// one from a forbidden one.
	"s3:PutObject":  "${ExportBucket.Arn}/exports/*",
	"s3:GetObject":  "${ExportBucket.Arn}/exports/*",
	"s3:ListBucket": "ExportBucket.Arn",
}

// functionPolicies lists, per function, the policies (SAM templates or
// inline actions) it must have and those it must not (least privilege:
// only the API reads the header secret; only the worker changes message
// visibility).
var functionPolicies = map[string]struct{ must, mustNot []string }{
	"ApiFunction": {
		must: []string{"DynamoDBCrudPolicy", "SQSSendMessagePolicy", "SSMParameterReadPolicy", "AWSSecretsManagerGetSecretValuePolicy",
			"s3:PutObject", "s3:GetObject", "s3:ListBucket"},
		mustNot: []string{"sqs:ChangeMessageVisibility"},
	},
	"SqsWorkerFunction": {
		must:    []string{"DynamoDBCrudPolicy", "SQSSendMessagePolicy", "sqs:ChangeMessageVisibility"},
		mustNot: []string{"SSMParameterReadPolicy", "AWSSecretsManagerGetSecretValuePolicy", "s3:PutObject", "s3:GetObject", "s3:ListBucket"},
	},
}

func TestFunctionPolicies(t *testing.T) {
	root := openNode(t)
	for _, id := range functionIDs {
		t.Run(id, func(t *testing.T) {
			props := must(t, root, "Resources", id, "Properties")
			if get(props, "Role") != nil {
				t.Error("a hand-written Role bypasses the policy-template checks")
			}
			got := map[string]bool{}
			for _, entry := range must(t, props, "Policies").Content {
				checkPolicyEntry(t, get(root, "Conditions"), entry, got)
			}
			want := functionPolicies[id]
			for _, name := range want.must {
				if !got[name] {
					t.Errorf("policies %v: want %s", got, name)
				}
			}
			for _, name := range want.mustNot {
				if got[name] {
					t.Errorf("policies %v: %s must not be granted", got, name)
				}
			}
		})
	}
}

// checkPolicyEntry checks one entry of a function's Policies and records
// what it grants in got: a SAM policy template scoped to this stack,
// possibly under a Condition, or an inline statement of inlineActions.
func checkPolicyEntry(t *testing.T, conds, entry *yaml.Node, got map[string]bool) {
	t.Helper()
	cond := ""
	if entry.Tag == "!If" {
		if len(entry.Content) != 3 || !isRef(entry.Content[2], "AWS::NoValue") {
			t.Errorf("line %d: !If policy must be [Condition, template, !Ref AWS::NoValue]", entry.Line)
			return
		}
		cond = entry.Content[0].Value
		if get(conds, cond) == nil {
			t.Errorf("line %d: unknown condition %q", entry.Line, cond)
		}
		entry = entry.Content[1]
	}
	if entry.Kind != yaml.MappingNode || len(entry.Content) != 2 {
		t.Errorf("line %d: policy entry is not a single SAM policy template or statement list", entry.Line)
		return
	}
	name, args := entry.Content[0].Value, entry.Content[1]
	if name == "Statement" {
		checkStatements(t, args, got)
		return
	}
	scope, ok := allowedPolicyTemplates[name]
	if !ok {
		t.Errorf("line %d: policy %s is not an allowed SAM policy template", entry.Line, name)
		return
	}
	if v := get(args, scope); v == nil || v.Tag == "!!str" && v.Value == "*" {
		t.Errorf("line %d: %s.%s must name this stack's resource", entry.Line, name, scope)
	}
	if slices.Contains(conditionalPolicies, name) && cond == "" {
		t.Errorf("line %d: %s must be under a Condition", entry.Line, name)
	}
	got[name] = true
}

// checkStatements allows inline statements that grant inlineActions on
// their one resource, and nothing else.
func checkStatements(t *testing.T, stmts *yaml.Node, got map[string]bool) {
	t.Helper()
	if stmts.Kind != yaml.SequenceNode {
		t.Errorf("line %d: Statement must be a list", stmts.Line)
		return
	}
	for _, st := range stmts.Content {
		if e := get(st, "Effect"); e == nil || e.Value != "Allow" {
			t.Errorf("line %d: inline statements may only Allow", st.Line)
		}
		if len(pairs(st)) != 3 {
			t.Errorf("line %d: inline statement must have exactly Effect, Action and Resource", st.Line)
		}
		actions := []*yaml.Node{get(st, "Action")}
		if a := actions[0]; a != nil && a.Kind == yaml.SequenceNode {
			actions = a.Content
		}
		for _, a := range actions {
			if a == nil {
				t.Errorf("line %d: inline statement has no Action", st.Line)
				continue
			}
			target, ok := inlineActions[a.Value]
			if !ok {
				t.Errorf("line %d: inline action %q is not allowed", a.Line, a.Value)
				continue
			}
			res := get(st, "Resource")
			if strings.HasPrefix(target, "${") {
				if res == nil || res.Tag != "!Sub" || res.Value != target {
					t.Errorf("line %d: %s must be granted on !Sub %q only", a.Line, a.Value, target)
				}
			} else if !isGetAtt(res, target) {
				t.Errorf("line %d: %s must be granted on !GetAtt %s only", a.Line, a.Value, target)
			}
			got[a.Value] = true
		}
	}
}

func TestPolicyScopes(t *testing.T) {
	root := openNode(t)
	for _, id := range functionIDs {
		for _, entry := range must(t, root, "Resources", id, "Properties", "Policies").Content {
			if v := get(entry, "DynamoDBCrudPolicy", "TableName"); v != nil && !isRef(v, "MailprobeTable") {
				t.Errorf("%s: DynamoDBCrudPolicy.TableName must be !Ref MailprobeTable", id)
			}
			if v := get(entry, "SQSSendMessagePolicy", "QueueName"); v != nil && !isGetAtt(v, "JobQueue.QueueName") {
				t.Errorf("%s: SQSSendMessagePolicy.QueueName must be !GetAtt JobQueue.QueueName", id)
			}
		}
	}
}

func TestNoEchoParameters(t *testing.T) {
	root := openNode(t)
	resources := must(t, root, "Resources")
	outputs := get(root, "Outputs")
	var noEcho []string
	for _, p := range pairs(must(t, root, "Parameters")) {
		if v := get(p[1], "NoEcho"); v == nil || v.Value != "true" {
			continue
		}
		name := p[0].Value
		noEcho = append(noEcho, name)
		if get(p[1], "Default") != nil {
			t.Errorf("NoEcho parameter %s has a Default: secrets must not live in the template", name)
		}
		if !references(resources, name) {
			t.Errorf("NoEcho parameter %s is never used", name)
		}
		if references(outputs, name) {
			t.Errorf("NoEcho parameter %s is shown in Outputs", name)
		}
	}
	slices.Sort(noEcho)
	if want := []string{"HeaderSecret", "ProxyUrls"}; !slices.Equal(noEcho, want) {
		t.Errorf("NoEcho parameters = %q, want %q", noEcho, want)
	}
}

func TestParametersAndEnvironment(t *testing.T) {
	root := openNode(t)
	params := must(t, root, "Parameters")
	for _, name := range []string{"HeaderSecret", "ProxyUrls", "FromEmail", "HelloName", "SmtpTimeout",
		"ThrottlePerMinute", "ThrottlePerDay", "CacheTtlSeconds", "LogLevel", "WorkerMaxConcurrency",
		"CorsAllowOrigins", "DomainName", "CertificateArn"} {
		if get(params, name) == nil {
			t.Errorf("no parameter %s", name)
		}
	}
	resources := must(t, root, "Resources")
	for _, p := range pairs(params) {
		if !references(resources, p[0].Value) && !references(get(root, "Conditions"), p[0].Value) {
			t.Errorf("parameter %s is never used", p[0].Value)
		}
	}
	env := map[string]string{
		"RCH__HEADER_SECRET": "HeaderSecret", "MAILPROBE_PROXIES": "ProxyUrls", "RCH__FROM_EMAIL": "FromEmail",
		"RCH__HELLO_NAME": "HelloName", "RCH__SMTP_TIMEOUT": "SmtpTimeout",
		"RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE": "ThrottlePerMinute",
		"RCH__THROTTLE__MAX_REQUESTS_PER_DAY":    "ThrottlePerDay", "RCH__CACHE_TTL": "CacheTtlSeconds",
		"MAILPROBE_LOG_LEVEL": "LogLevel", "MAILPROBE_TABLE": "MailprobeTable", "MAILPROBE_QUEUE_URL": "JobQueue",
		"MAILPROBE_EXPORT_BUCKET": "ExportBucket",
	}
	// apiOnly are set on ApiFunction only: the worker serves no HTTP, so it
	// must not hold the header secret (least privilege) and has no use
	// for the request throttle or the result cache.
	apiOnly := map[string]bool{
		"RCH__HEADER_SECRET": true, "RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE": true,
		"RCH__THROTTLE__MAX_REQUESTS_PER_DAY": true, "RCH__CACHE_TTL": true, "MAILPROBE_EXPORT_BUCKET": true,
	}
	for _, id := range functionIDs {
		vars := must(t, resources, id, "Properties", "Environment", "Variables")
		for name, ref := range env {
			v := get(vars, name)
			switch {
			case apiOnly[name] && id != "ApiFunction":
				if v != nil {
					t.Errorf("%s: environment %s must not be set", id, name)
				}
			case !isRef(v, ref):
				t.Errorf("%s: environment %s must be !Ref %s", id, name, ref)
			}
		}
	}
}

func TestOutputs(t *testing.T) {
	tpl := openTyped(t)
	for _, name := range []string{"ApiUrl", "QueueUrl", "DeadLetterQueueUrl", "TableName"} {
		if _, ok := tpl.Outputs[name]; !ok {
			t.Errorf("no output %s", name)
		}
	}
}

// TestReferencesResolve checks that every !Ref, !GetAtt, !Sub variable and
// condition name points at something the template defines, which
// CloudFormation would otherwise only report at deploy time.
func TestReferencesResolve(t *testing.T) {
	root := openNode(t)
	defined := map[string]bool{}
	for _, section := range []string{"Parameters", "Resources"} {
		for _, p := range pairs(get(root, section)) {
			defined[p[0].Value] = true
		}
	}
	conds := map[string]bool{}
	for _, p := range pairs(get(root, "Conditions")) {
		conds[p[0].Value] = true
	}
	subVar := regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(\.[A-Za-z]+)?\}`)
	known := func(name string) bool { return defined[name] || strings.HasPrefix(name, "AWS::") }
	walk(root, func(n *yaml.Node) {
		switch n.Tag {
		case "!Ref":
			if !known(n.Value) {
				t.Errorf("line %d: !Ref %s is not defined", n.Line, n.Value)
			}
		case "!GetAtt":
			if res, _, _ := strings.Cut(n.Value, "."); !defined[res] {
				t.Errorf("line %d: !GetAtt %s: no such resource", n.Line, n.Value)
			}
		case "!Sub":
			checkSub(t, n, subVar, known)
		case "!If":
			if len(n.Content) == 3 && !conds[n.Content[0].Value] {
				t.Errorf("line %d: !If on unknown condition %s", n.Line, n.Content[0].Value)
			}
		case "!Condition":
			if !conds[n.Value] {
				t.Errorf("line %d: unknown condition %s", n.Line, n.Value)
			}
		}
	})
}

func checkSub(t *testing.T, n *yaml.Node, subVar *regexp.Regexp, known func(string) bool) {
	t.Helper()
	text, locals := n.Value, map[string]bool{}
	if n.Kind == yaml.SequenceNode && len(n.Content) == 2 {
		text = n.Content[0].Value
		for _, p := range pairs(n.Content[1]) {
			locals[p[0].Value] = true
		}
	}
	for _, m := range subVar.FindAllStringSubmatch(text, -1) {
		if !known(m[1]) && !locals[m[1]] {
			t.Errorf("line %d: !Sub variable ${%s} is not defined", n.Line, m[1])
		}
	}
}

// references reports whether anything under n refers to the name: !Ref,
// {Ref: name}, or ${name} in a !Sub.
func references(n *yaml.Node, name string) bool {
	found := false
	walk(n, func(c *yaml.Node) {
		switch {
		case isRef(c, name):
			found = true
		case c.Tag == "!Sub" && strings.Contains(c.Value, "${"+name+"}"):
			found = true
		case c.Tag == "!Sub" && c.Kind == yaml.SequenceNode && len(c.Content) > 0 &&
			strings.Contains(c.Content[0].Value, "${"+name+"}"):
			found = true
		}
	})
	return found
}
