package samtemplate

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Prompt is one question `sam deploy --guided` asks.
type Prompt struct {
	// Text is the question as SAM prints it, without the default:
	// "Stack Name", "Parameter FromEmail", "Confirm changes before deploy".
	Text string
	// Default is what Enter answers, as SAM shows it in brackets ("mailprobe",
	// "Y/n", "y/N"); "" when SAM shows none.
	Default string
	// Hidden: a NoEcho parameter, typed without echo and never saved.
	Hidden bool
}

// GuidedPrompts lists the questions of `sam deploy --guided` for this
// deployment, in order (samcli/commands/deploy/guided_context.py): stack
// name, region, every template parameter (defaults from samconfig's
// parameter_overrides, else the template's), changeset confirmation, IAM
// role creation, rollback, one "has no authentication" question per
// HttpApi or Api event without an authorizer (whose default, N, aborts the
// deploy), and where to save the answers. c is the samconfig file the
// command reads (nil for none), env its environment.
func (d *Deployment) GuidedPrompts(c *Samconfig, env string) []Prompt {
	if env == "" {
		env = "default"
	}
	str := func(key, def string) string {
		if c != nil {
			if v, ok := c.Value(env, "deploy", key); ok {
				if s, ok := v.(string); ok && s != "" {
					return s
				}
			}
		}
		return def
	}
	yesNo := func(key string, def bool) string {
		if c != nil {
			if v, ok := c.Value(env, "deploy", key); ok {
				if b, ok := v.(bool); ok {
					def = b
				} else if s, ok := v.(string); ok {
					def, _ = strconv.ParseBool(s)
				}
			}
		}
		if def {
			return "Y/n"
		}
		return "y/N"
	}
	out := []Prompt{{Text: "Stack Name", Default: str("stack_name", "sam-app")}, {Text: "AWS Region", Default: str("region", "")}}
	var overrides map[string]string
	if c != nil {
		overrides, _ = c.Overrides(env, "deploy")
	}
	for _, p := range d.Parameters() {
		pr := Prompt{Text: "Parameter " + p.Name, Hidden: p.NoEcho}
		if !p.NoEcho {
			pr.Default = p.Default
			if v := overrides[p.Name]; v != "" {
				pr.Default = v
			}
		}
		out = append(out, pr)
	}
	out = append(out,
		Prompt{Text: "Confirm changes before deploy", Default: yesNo("confirm_changeset", false)},
		Prompt{Text: "Allow SAM CLI IAM role creation", Default: "Y/n"},
		Prompt{Text: "Disable rollback", Default: yesNo("disable_rollback", false)},
	)
	for _, fn := range d.EventsWithoutAuth() {
		out = append(out, Prompt{Text: fn + " has no authentication. Is this okay?", Default: "y/N"})
	}
	return append(out,
		Prompt{Text: "Save arguments to configuration file", Default: "Y/n"},
		Prompt{Text: "SAM configuration file", Default: "samconfig.toml"},
		Prompt{Text: "SAM configuration environment", Default: env},
	)
}

// EventsWithoutAuth lists, once per Api or HttpApi event, the functions
// SAM's guided deploy asks about (samcli/commands/deploy/auth_utils.py):
// events with no Auth of their own whose API (by ApiId or RestApiId) is a
// SAM API without Auth or a security section in its definition. An event
// on a plain AWS::ApiGatewayV2::Api or AWS::ApiGateway::RestApi is not
// asked about.
func (t *Template) EventsWithoutAuth() []string {
	var out []string
	for _, f := range t.Functions() {
		for _, e := range f.Events() {
			idKey := map[string]string{"HttpApi": "ApiId", "Api": "RestApiId"}[e.Type]
			if idKey == "" || truthy(e.Prop("Auth")) || t.apiHasAuth(refTarget(e.Prop(idKey))) {
				continue
			}
			out = append(out, f.ID)
		}
	}
	return out
}

func (t *Template) apiHasAuth(id string) bool {
	res, ok := t.Resource(id)
	if !ok {
		return false
	}
	switch res.Type {
	case "AWS::ApiGatewayV2::Api", "AWS::ApiGateway::RestApi":
		return true
	}
	if truthy(res.Property("Auth")) {
		return true
	}
	body := res.Property("DefinitionBody")
	if truthy(get(body, "security")) {
		return true
	}
	for _, path := range pairs(get(body, "paths")) {
		for _, op := range pairs(path[1]) {
			if truthy(get(op[1], "security")) {
				return true
			}
		}
	}
	return false
}

// truthy is Python's truth of a parsed YAML value: present, and not an
// empty mapping, list or string, false or 0.
func truthy(n *yaml.Node) bool {
	if n == nil {
		return false
	}
	switch n.Kind {
	case yaml.MappingNode, yaml.SequenceNode:
		return len(n.Content) > 0
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return false
		case "!!bool":
			b, _ := strconv.ParseBool(n.Value)
			return b
		case "!!int", "!!float":
			f, _ := strconv.ParseFloat(n.Value, 64)
			return f != 0
		case "!!str":
			return n.Value != ""
		}
	}
	return true
}
