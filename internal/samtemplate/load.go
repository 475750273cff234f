package samtemplate

import (
	"errors"
	"fmt"
	"maps"
	"os"
)

// Source names a template and the samconfig.toml whose parameter
// overrides apply to it, as a SAM CLI command reads them.
type Source struct {
	Template  string // path of template.yaml
	Samconfig string // path of samconfig.toml; "" for none
	ConfigEnv string // samconfig environment; "" is "default"
	// Command is the SAM CLI command whose parameters apply: "deploy"
	// for what a stack gets, "local_invoke" for `sam local invoke`.
	Command string
	// Overrides are applied last, like --parameter-overrides on the
	// command line (which replaces samconfig's list; here each key wins).
	Overrides map[string]string
}

// Deployment is a template with the parameter values a command would use.
type Deployment struct {
	*Template
	Params map[string]string // every parameter with a value
	// Missing lists the parameters with neither an override nor a
	// default (`sam deploy --guided` would prompt for them).
	Missing []string
}

// Load reads the template and samconfig.toml and computes the parameter
// values: the template's defaults, then samconfig's parameter_overrides
// for the command, then src.Overrides. Values are checked against the
// parameters' constraints.
func Load(src Source) (*Deployment, error) {
	t, err := Open(src.Template)
	if err != nil {
		return nil, err
	}
	overrides := map[string]string{}
	if src.Samconfig != "" {
		c, err := OpenSamconfig(src.Samconfig)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// No samconfig.toml: only defaults and src.Overrides, as for SAM.
		case err != nil:
			return nil, err
		default:
			env := src.ConfigEnv
			if env == "" {
				env = "default"
			}
			if overrides, err = c.Overrides(env, src.Command); err != nil {
				return nil, err
			}
		}
	}
	maps.Copy(overrides, src.Overrides)
	params, missing, err := t.ParameterValues(overrides)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Template, err)
	}
	return &Deployment{Template: t, Params: params, Missing: missing}, nil
}

// Environments evaluates the environment of every function that exists
// (its Condition holds), by logical id.
func (t *Template) Environments(r *Resolver) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, f := range t.Functions() {
		ok, err := r.Exists(f.Resource)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		env, err := f.Environment(r)
		if err != nil {
			return nil, err
		}
		out[f.ID] = env
	}
	return out, nil
}

// LocalStack is the Stack `sam local` gives a template it has not
// deployed: missing parameters are empty, !Ref of a resource is its
// logical id and !GetAtt is "Resource.Attribute", unless refs and attrs
// say otherwise. Notes say which values are such placeholders.
func (d *Deployment) LocalStack(refs, attrs map[string]string) (s Stack, notes []string) {
	s = Stack{Params: maps.Clone(d.Params), Refs: map[string]string{}, Attrs: map[string]string{}}
	for _, name := range d.Missing {
		s.Params[name] = ""
		notes = append(notes, "parameter "+name+" has no value: the variables built from it are empty")
	}
	for _, r := range d.Resources() {
		s.Refs[r.ID] = r.ID
	}
	maps.Copy(s.Refs, refs)
	for _, a := range d.AttributesUsed() {
		s.Attrs[a] = a
	}
	maps.Copy(s.Attrs, attrs)
	return s, notes
}
