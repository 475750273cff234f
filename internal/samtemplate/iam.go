package samtemplate

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Statement is an IAM policy statement, evaluated: conditions decided,
// AWS::NoValue statements gone, every intrinsic resolved.
type Statement struct {
	Policy    string // the policy's name or logical id
	Sid       string
	Effect    string // Allow or Deny
	Actions   []string
	Resources []string
}

// Role is the execution role of a function as the template defines it.
type Role struct {
	ID         string      // logical id of the AWS::IAM::Role
	Statements []Statement // inline policies, and AWS::IAM::Policy resources attached to it
	// ManagedPolicies are ManagedPolicyArns and the logical ids of
	// AWS::IAM::ManagedPolicy resources attached to it: their statements
	// are not in the template.
	ManagedPolicies []string
}

// FunctionRole evaluates the role a function (a SAM function, or the
// AWS::Lambda::Function SAM generates) runs with: the AWS::IAM::Role its
// Role property names (!GetAtt R.Arn). A SAM function without Role gets
// one SAM generates from its Policies, which this package does not model:
// that is an error.
func (t *Template) FunctionRole(id string, r *Resolver) (Role, error) {
	var roleProp *yaml.Node
	if f, ok := t.Function(id); ok {
		roleProp = f.Prop("Role")
	} else if res, ok := t.Resource(id); ok && res.Type == "AWS::Lambda::Function" {
		roleProp = res.Property("Role")
	} else {
		return Role{}, fmt.Errorf("samtemplate: no function %s", id)
	}
	roleID := refTarget(roleProp)
	res, ok := t.Resource(roleID)
	if !ok || res.Type != "AWS::IAM::Role" {
		return Role{}, fmt.Errorf("%s: Role is not !GetAtt of an AWS::IAM::Role of the template", id)
	}
	role := Role{ID: roleID}
	v, err := r.optional(res.Property("Policies"))
	if err != nil {
		return Role{}, fmt.Errorf("role %s: %w", roleID, err)
	}
	for _, p := range asList(v) {
		pm, _ := p.(map[string]any)
		st, err := statements(fmt.Sprint(pm["PolicyName"]), pm["PolicyDocument"])
		if err != nil {
			return Role{}, fmt.Errorf("role %s: %w", roleID, err)
		}
		role.Statements = append(role.Statements, st...)
	}
	if v, err = r.optional(res.Property("ManagedPolicyArns")); err != nil {
		return Role{}, fmt.Errorf("role %s: %w", roleID, err)
	}
	for _, arn := range asList(v) {
		role.ManagedPolicies = append(role.ManagedPolicies, fmt.Sprint(arn))
	}
	if err := t.attachedPolicies(r, &role); err != nil {
		return Role{}, err
	}
	return role, nil
}

// attachedPolicies adds the AWS::IAM::Policy and AWS::IAM::ManagedPolicy
// resources that list the role in their Roles.
func (t *Template) attachedPolicies(r *Resolver, role *Role) error {
	for _, res := range t.Resources() {
		if res.Type != "AWS::IAM::Policy" && res.Type != "AWS::IAM::ManagedPolicy" {
			continue
		}
		if exists, err := r.Exists(res); err != nil || !exists {
			return err
		}
		attached := false
		for _, n := range nodesOf(res.Property("Roles")) {
			attached = attached || refTarget(n) == role.ID
		}
		if !attached {
			continue
		}
		if res.Type == "AWS::IAM::ManagedPolicy" {
			role.ManagedPolicies = append(role.ManagedPolicies, res.ID)
			continue
		}
		doc, err := r.optional(res.Property("PolicyDocument"))
		if err != nil {
			return fmt.Errorf("policy %s: %w", res.ID, err)
		}
		st, err := statements(res.ID, doc)
		if err != nil {
			return fmt.Errorf("policy %s: %w", res.ID, err)
		}
		role.Statements = append(role.Statements, st...)
	}
	return nil
}

// statements reads an evaluated policy document.
func statements(policy string, doc any) ([]Statement, error) {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: PolicyDocument is not a mapping", policy)
	}
	var out []Statement
	for _, s := range asList(m["Statement"]) {
		sm, ok := s.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: a statement is not a mapping", policy)
		}
		for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
			if _, ok := sm[k]; ok {
				return nil, fmt.Errorf("%s: %s is not modelled", policy, k)
			}
		}
		st := Statement{Policy: policy, Effect: fmt.Sprint(sm["Effect"])}
		if sid, ok := sm["Sid"]; ok {
			st.Sid = fmt.Sprint(sid)
		}
		for _, a := range asList(sm["Action"]) {
			st.Actions = append(st.Actions, fmt.Sprint(a))
		}
		for _, res := range asList(sm["Resource"]) {
			st.Resources = append(st.Resources, fmt.Sprint(res))
		}
		out = append(out, st)
	}
	return out, nil
}

// Allows reports whether the role's statements allow action on resource:
// an Allow statement matches both and no Deny statement does. Actions
// match case-insensitively; "*" and "?" are IAM's wildcards in both.
func (role Role) Allows(action, resource string) bool {
	allowed := false
	for _, s := range role.Statements {
		if !s.matches(action, resource) {
			continue
		}
		if s.Effect == "Deny" {
			return false
		}
		allowed = allowed || s.Effect == "Allow"
	}
	return allowed
}

func (s Statement) matches(action, resource string) bool {
	return slices.ContainsFunc(s.Actions, func(a string) bool { return wildcard(strings.ToLower(a), strings.ToLower(action)) }) &&
		slices.ContainsFunc(s.Resources, func(r string) bool { return wildcard(r, resource) })
}

// Granted lists the actions of the role's Allow statements with the
// resources each is granted on.
func (role Role) Granted() map[string][]string {
	out := map[string][]string{}
	for _, s := range role.Statements {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Actions {
			out[a] = append(out[a], s.Resources...)
		}
	}
	return out
}

// wildcard matches s against an IAM pattern: "*" any run of characters,
// "?" any one character.
func wildcard(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if wildcard(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pattern[0] {
				return false
			}
		}
		pattern, s = pattern[1:], s[1:]
	}
	return s == ""
}

// asList turns an evaluated value into a list: a list as it is, nil as
// none, anything else as a list of one.
func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// nodesOf returns the items of a sequence node, or the node alone.
func nodesOf(n *yaml.Node) []*yaml.Node {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.SequenceNode && !cfnTag(n.Tag):
		return n.Content
	}
	return []*yaml.Node{n}
}

// optional evaluates n, a property that may be absent (nil, no error).
func (r *Resolver) optional(n *yaml.Node) (any, error) {
	if n == nil {
		return nil, nil
	}
	return r.Value(n)
}
