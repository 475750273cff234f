package infra

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// The IAM tests here check the roles' shape and scope without running
// anything; which actions each role lists is held to what the functions'
// code really calls by e2e TestLeastPrivilege.

// TestNoWildcardActions walks every IAM statement in the template and
// refuses "*" and "service:*" actions, and Resource "*" except for X-Ray,
// which has no resource-level permissions.
func TestNoWildcardActions(t *testing.T) {
	root := openNode(t)
	walk(root, func(n *yaml.Node) {
		action := get(n, "Action")
		if action == nil || n.Kind != yaml.MappingNode {
			return
		}
		vals := []*yaml.Node{action}
		if action.Kind == yaml.SequenceNode {
			vals = action.Content
		}
		onlyXRay := true
		for _, v := range vals {
			if v.Value == "*" || strings.HasSuffix(v.Value, ":*") {
				t.Errorf("line %d: IAM action %q grants a whole service", v.Line, v.Value)
			}
			onlyXRay = onlyXRay && strings.HasPrefix(v.Value, "xray:")
		}
		for _, r := range nodesOf(get(n, "Resource")) {
			if r.Value == "*" && !onlyXRay {
				t.Errorf("line %d: Resource \"*\" for %s: name this stack's resource", r.Line, seqValues(action))
			}
		}
		if get(n, "NotAction") != nil || get(n, "NotResource") != nil {
			t.Errorf("line %d: NotAction/NotResource grant everything else", n.Line)
		}
	})
}

// TestFunctionRoles: each function runs with a role of its own, defined in
// the template, that only Lambda may assume and that carries no managed
// policy; SAM's Policies property is absent, because SAM ignores it when
// Role is set.
func TestFunctionRoles(t *testing.T) {
	d, r := deployment(t, nil)
	seen := map[string]string{}
	for _, id := range functionIDs {
		t.Run(id, func(t *testing.T) {
			f, _ := d.Function(id)
			if f.Prop("Policies") != nil {
				t.Errorf("%s has Policies, which SAM ignores when Role is set: add the statement to %sRole's policy", id, id)
			}
			role, err := d.FunctionRole(id, r)
			if err != nil {
				t.Fatal(err)
			}
			if other, ok := seen[role.ID]; ok {
				t.Errorf("%s shares role %s with %s", id, role.ID, other)
			}
			seen[role.ID] = id
			if len(role.ManagedPolicies) > 0 {
				t.Errorf("role %s has managed policies %v: list the actions in its own policy", role.ID, role.ManagedPolicies)
			}
			for _, s := range role.Statements {
				if s.Effect != "Allow" || len(s.Actions) == 0 || len(s.Resources) == 0 {
					t.Errorf("statement %s/%s: %s %v on %v, want Allow with actions and resources", s.Policy, s.Sid, s.Effect, s.Actions, s.Resources)
				}
			}
			res, _ := d.Resource(role.ID)
			trust, err := r.Value(res.Property("AssumeRolePolicyDocument"))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
				"Effect": "Allow", "Principal": map[string]any{"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}}}
			if !equal(trust, want) {
				t.Errorf("AssumeRolePolicyDocument = %v, want Lambda's alone", trust)
			}
		})
	}
}

// TestRoleScopes: every grant names this stack's own resources. A role's
// actions on the queue, the table and its log group name their ARNs
// (!GetAtt); the event source mapping's actions are granted only to a
// function with an SQS event, on its queue; logs only on its own log group.
func TestRoleScopes(t *testing.T) {
	d, r := deployment(t, map[string]string{"HeaderSecret": "literal-secret", "ProxyUrls": "socks5://u:p@192.0.2.1:1080"})
	evs, err := d.SQSEvents(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range functionIDs {
		role, err := d.FunctionRole(id, r)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := d.Function(id)
		logGroup := "attr-" + refTarget(t, f.Prop("LoggingConfig", "LogGroup")) + ".Arn"
		var queues []string
		for _, ev := range evs {
			if ev.Function == id {
				queues = append(queues, "attr-"+ev.Queue+".Arn")
			}
		}
		for action, resources := range role.Granted() {
			for _, res := range resources {
				var ok bool
				switch {
				case strings.HasPrefix(action, "logs:"):
					ok = res == logGroup
				case slices.Contains([]string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}, action):
					ok = slices.Contains(queues, res)
				default: // a resource's ARN, or objects under it ("${Bucket.Arn}/prefix/*")
					arn, _, _ := strings.Cut(res, "/")
					ok = strings.HasPrefix(arn, "attr-") && strings.HasSuffix(arn, ".Arn")
				}
				if !ok {
					t.Errorf("%s: %s granted on %q, outside the function's own resources", id, action, res)
				}
			}
		}
	}
}

// TestSecretReadAccess evaluates both roles for each form a secret
// reference takes: read access to exactly the one parameter or secret
// named (a Secrets Manager name gets the "-??????" suffix AWS appends),
// none for a literal value, and none to the header secret for the worker.
func TestSecretReadAccess(t *testing.T) {
	const region, account = "us-east-1", "000000000000"
	ssmARN := func(rest string) string { return "arn:aws:ssm:" + region + ":" + account + ":parameter" + rest }
	smARN := func(name string) string {
		return "arn:aws:secretsmanager:" + region + ":" + account + ":secret:" + name
	}
	fullARN := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/px-Ab12Cd"
	forms := []struct {
		value  string
		action string
		arn    string // what the role must allow; "" for a literal
		denied []string
	}{
		{"ssm:/mailprobe/x", "ssm:GetParameter", ssmARN("/mailprobe/x"), []string{ssmARN("/mailprobe/y"), ssmARN("/mailprobe/x/y")}},
		{"ssm:plain-name", "ssm:GetParameter", ssmARN("/plain-name"), []string{ssmARN("/plain-name2")}},
		{"secretsmanager:team/px", "secretsmanager:GetSecretValue", smARN("team/px-Xy12Zw"),
			[]string{smARN("team/px2-Xy12Zw"), smARN("team/px-Xy12Zw-more")}},
		{"secretsmanager:" + fullARN, "secretsmanager:GetSecretValue", fullARN, []string{smARN("team/px-Ab12Cd")}},
		{"socks5://u:p@192.0.2.1:1080", "", "", nil},
	}
	for _, param := range []string{"HeaderSecret", "ProxyUrls"} {
		for _, form := range forms {
			other := map[string]string{"HeaderSecret": "literal-secret", "ProxyUrls": "socks5://u:p@192.0.2.1:1080"}
			if param == "HeaderSecret" && strings.HasPrefix(form.value, "socks5") {
				continue
			}
			other[param] = form.value
			t.Run(param+"="+form.value, func(t *testing.T) {
				d, r := deployment(t, other)
				for _, id := range functionIDs {
					role, err := d.FunctionRole(id, r)
					if err != nil {
						t.Fatal(err)
					}
					reads := secretReads(role)
					want := form.arn != "" && (param == "ProxyUrls" || id == "ApiFunction")
					if got := role.Allows(form.action, form.arn); want && (!got || len(reads) != 1) {
						t.Errorf("%s: %s on %s allowed %v; all secret reads %v; want that one alone", id, form.action, form.arn, got, reads)
					}
					if !want && len(reads) > 0 {
						t.Errorf("%s may read secrets %v, want none", id, reads)
					}
					for _, arn := range form.denied {
						if role.Allows(form.action, arn) {
							t.Errorf("%s: %s allowed on %s too", id, form.action, arn)
						}
					}
				}
			})
		}
	}
}

// secretReads lists the SSM and Secrets Manager grants of a role.
func secretReads(role samtemplate.Role) []string {
	var out []string
	for a, res := range role.Granted() {
		if strings.HasPrefix(a, "ssm:") || strings.HasPrefix(a, "secretsmanager:") || strings.HasPrefix(a, "kms:") {
			out = append(out, a+" "+strings.Join(res, ","))
		}
	}
	return out
}

// TestTracingAccess: X-Ray writes are granted exactly when Tracing is
// Active, and the functions then trace actively.
func TestTracingAccess(t *testing.T) {
	for _, mode := range []string{"Disabled", "Active"} {
		d, r := deployment(t, map[string]string{"Tracing": mode})
		for _, id := range functionIDs {
			role, err := d.FunctionRole(id, r)
			if err != nil {
				t.Fatal(err)
			}
			got := role.Allows("xray:PutTraceSegments", "*") && role.Allows("xray:PutTelemetryRecords", "*")
			if got != (mode == "Active") {
				t.Errorf("Tracing=%s: %s may write traces: %v", mode, id, got)
			}
			f, _ := d.Function(id)
			tracing, err := r.String(f.Prop("Tracing"))
			if want := map[string]string{"Active": "Active", "Disabled": "PassThrough"}[mode]; err != nil || tracing != want {
				t.Errorf("Tracing=%s: %s Tracing = %q (%v), want %s", mode, id, tracing, err, want)
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
	d, _ := deployment(t, nil)
	for _, p := range d.Parameters() {
		if p.Name != "ProxyUrls" {
			continue
		}
		for v, ok := range map[string]bool{
			"socks5://u:p@h:1080,socks5h://h2": true, "ssm:/mailprobe/proxies": true, "ssm:proxies": true,
			"secretsmanager:mailprobe/proxies": true, "http://h:3128": false, "": false,
		} {
			if err := p.Check(v); (err == nil) != ok {
				t.Errorf("ProxyUrls = %q accepted: %v, want %v", v, err == nil, ok)
			}
		}
	}
}

func TestParametersAndEnvironment(t *testing.T) {
	root := openNode(t)
	params := must(t, root, "Parameters")
	for _, name := range []string{"HeaderSecret", "ProxyUrls", "FromEmail", "HelloName", "SmtpTimeout",
		"ThrottlePerMinute", "ThrottlePerDay", "CacheTtlSeconds", "RetentionDays", "LogLevel", "WorkerConcurrency", "WorkerMaxConcurrency",
		"CorsAllowOrigins", "DomainName", "CertificateArn", "AlarmTopicArn", "OldestMessageAlarmSeconds", "Tracing"} {
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
		"RCH__RETENTION_DAYS": "RetentionDays",
	}
	// apiOnly are set on ApiFunction only: the worker serves no HTTP, so it
	// must not hold the header secret (least privilege) and has no use
	// for the request throttle or the result cache.
	apiOnly := map[string]bool{
		"RCH__HEADER_SECRET": true, "RCH__THROTTLE__MAX_REQUESTS_PER_MINUTE": true,
		"RCH__THROTTLE__MAX_REQUESTS_PER_DAY": true, "RCH__CACHE_TTL": true,
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
		// Declared empty for `sam local invoke --env-vars`, which sets
		// only the variables a template declares.
		endpoints := []string{"MAILPROBE_DYNAMODB_ENDPOINT", "MAILPROBE_SQS_ENDPOINT"}
		if get(vars, "MAILPROBE_EXPORT_BUCKET") != nil {
			endpoints = append(endpoints, "MAILPROBE_S3_ENDPOINT")
		}
		for _, name := range endpoints {
			if v := get(vars, name); v == nil || v.Tag != "!!str" || v.Value != "" {
				t.Errorf("%s: environment %s must be declared as \"\"", id, name)
			}
		}
	}
}

func TestOutputs(t *testing.T) {
	_, r := deployment(t, nil)
	values, failed := r.Outputs()
	if len(failed) > 0 {
		t.Errorf("outputs that do not resolve: %v", failed)
	}
	want := map[string]string{
		"ApiUrl":             "https://ref-MailprobeHttpApi.execute-api.us-east-1.amazonaws.com/",
		"QueueUrl":           "ref-JobQueue",
		"DeadLetterQueueUrl": "ref-DeadLetterQueue",
		"TableName":          "ref-MailprobeTable",
	}
	for name, v := range want {
		if values[name] != v {
			t.Errorf("output %s = %q, want %q", name, values[name], v)
		}
	}
	_, r = deployment(t, map[string]string{"DomainName": "api.example.com", "CertificateArn": "arn:aws:acm:us-east-1:1:certificate/x"})
	if values, _ := r.Outputs(); values["ApiUrl"] != "https://api.example.com/" || values["CustomDomainTarget"] == "" {
		t.Errorf("with a custom domain: outputs %v", values)
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

// nodesOf returns the items of a sequence node, or the node alone.
func nodesOf(n *yaml.Node) []*yaml.Node {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode:
		return n.Content
	}
	return []*yaml.Node{n}
}
