package lambdalocal

import (
	"cmp"
	"slices"
	"strings"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// router matches requests to the template's HttpApi routes the way API
// Gateway HTTP APIs do: the most specific path wins (literal segments over
// {variables} over a greedy {proxy+}), a method over ANY, and $default
// catches what nothing else matches.
type router struct {
	routes []samtemplate.Route // most specific first
	def    *samtemplate.Route  // the $default route, if any
}

func newRouter(routes []samtemplate.Route) *router {
	r := &router{}
	for _, rt := range routes {
		if rt.Path == "" {
			r.def = &rt
			continue
		}
		r.routes = append(r.routes, rt)
	}
	slices.SortStableFunc(r.routes, func(a, b samtemplate.Route) int {
		if c := cmp.Compare(specificity(b.Path), specificity(a.Path)); c != 0 {
			return c
		}
		return cmp.Compare(methodRank(a.Method), methodRank(b.Method))
	})
	return r
}

// specificity ranks a route path: more segments first, then fewer
// variables, and a greedy variable last.
func specificity(path string) int {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	score := len(segs) * 1000
	for _, s := range segs {
		switch {
		case strings.HasSuffix(s, "+}"):
			score -= 500
		case strings.HasPrefix(s, "{"):
			score--
		}
	}
	return score
}

func methodRank(m string) int {
	if m == "ANY" {
		return 1
	}
	return 0
}

// match returns the route for method and the (decoded) path, with its path
// parameters.
func (r *router) match(method, path string) (samtemplate.Route, map[string]string, bool) {
	for _, rt := range r.routes {
		if rt.Method != "ANY" && rt.Method != method {
			continue
		}
		if params, ok := matchPath(rt.Path, path); ok {
			return rt, params, true
		}
	}
	if r.def != nil {
		return *r.def, nil, true
	}
	return samtemplate.Route{}, nil, false
}

// matchPath matches a request path against a route path with {name}
// (one non-empty segment) and a final {name+} (the rest, at least one
// segment).
func matchPath(pattern, path string) (map[string]string, bool) {
	pp := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	rp := strings.Split(strings.TrimPrefix(path, "/"), "/")
	params := map[string]string{}
	for i, seg := range pp {
		if i >= len(rp) {
			return nil, false
		}
		if name, ok := strings.CutSuffix(strings.TrimPrefix(seg, "{"), "+}"); ok && strings.HasPrefix(seg, "{") && i == len(pp)-1 {
			rest := strings.Join(rp[i:], "/")
			if rest == "" {
				return nil, false
			}
			params[name] = rest
			return params, true
		}
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			if rp[i] == "" {
				return nil, false
			}
			params[seg[1:len(seg)-1]] = rp[i]
			continue
		}
		if seg != rp[i] {
			return nil, false
		}
	}
	if len(rp) != len(pp) {
		return nil, false
	}
	return params, true
}
