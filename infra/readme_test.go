package infra

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

const deployHeading = "## Deploying with SAM"

// TestReadmeGuidedDeploy compares the README's walk-through of a first
// `sam deploy --guided` with the questions SAM asks for this template and
// samconfig.toml (samtemplate.GuidedPrompts follows aws-sam-cli's
// guided_context.py): the same questions in the same order, with the same
// defaults, and the "no authentication" question once per route.
func TestReadmeGuidedDeploy(t *testing.T) {
	d, err := samtemplate.Load(samtemplate.Source{Template: templatePath, Samconfig: samconfigPath, Command: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := samtemplate.OpenSamconfig(samconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	repeats := map[string]int{}
	for _, p := range d.GuidedPrompts(c, "") {
		line := p.Text
		switch {
		case p.Text == "AWS Region":
			line += " [*]" // the default is the user's region
		case !p.Hidden:
			line += " [" + p.Default + "]"
		}
		if len(want) > 0 && want[len(want)-1] == line {
			repeats[line]++
			continue
		}
		repeats[line] = 1
		want = append(want, line)
	}
	var block string
	for _, b := range readmeBlocks(t, deployHeading) {
		if strings.Contains(b, "Stack Name [") {
			block = b
		}
	}
	if block == "" {
		t.Fatal("the README's deploy section has no guided walk-through (a block with \"Stack Name [\")")
	}
	prompt := regexp.MustCompile(`^(.*?)(?: \[(.*?)\])?:\s+(.*)$`)
	times := regexp.MustCompile(`asked once per route: (\d+) times`)
	var got []string
	for _, line := range strings.Split(block, "\n") {
		m := prompt.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("README walk-through line %q is not `question [default]: answer`", line)
			continue
		}
		q := m[1]
		switch {
		case q == "AWS Region":
			q += " [*]"
		case strings.Contains(line, q+" ["):
			q += " [" + m[2] + "]"
		}
		got = append(got, q)
		if n := repeats[q]; n > 1 {
			if tm := times.FindStringSubmatch(m[3]); tm == nil || tm[1] != fmt.Sprint(n) {
				t.Errorf("README: %q is asked %d times; say \"asked once per route: %d times\"", q, n, n)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("README's guided deploy questions:\n%s\n\nsam deploy --guided asks:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReadmeIAM compares the README's table of role grants with the roles
// the template defines, evaluated with literal secrets and tracing off
// (the conditional grants are TestSecretReadAccess's and
// TestTracingAccess's): every row whose role is a logical id is a grant,
// and every grant is a row.
func TestReadmeIAM(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// | `Role` | `action` `action` | `Resource` [objects under `prefix/`] | why |
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z0-9]+Role)` \\| ([^|]+) \\| `([A-Za-z0-9]+)`(?: objects under `([^`]+)`)? \\|")
	code := regexp.MustCompile("`([^`]+)`")
	readme := map[string][]string{} // role → "action on resource"
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		res := m[3]
		if m[4] != "" {
			res += "/" + m[4] + "*"
		}
		for _, a := range code.FindAllStringSubmatch(m[2], -1) {
			readme[m[1]] = append(readme[m[1]], a[1]+" on "+res)
		}
	}
	if len(readme) == 0 {
		t.Fatal("the README has no role table")
	}
	d, r := deployment(t, map[string]string{"HeaderSecret": "literal-secret", "ProxyUrls": "socks5://u:p@192.0.2.1:1080", "Tracing": "Disabled"})
	got := map[string][]string{}
	for _, id := range functionIDs {
		role, err := d.FunctionRole(id, r)
		if err != nil {
			t.Fatal(err)
		}
		for action, resources := range role.Granted() {
			for _, res := range resources {
				res = strings.Replace(strings.TrimPrefix(res, "attr-"), ".Arn", "", 1)
				got[role.ID] = append(got[role.ID], action+" on "+res)
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(got)) {
		slices.Sort(got[id])
		slices.Sort(readme[id])
		if !slices.Equal(got[id], readme[id]) {
			t.Errorf("%s grants:\n  %s\nthe README says:\n  %s", id, strings.Join(got[id], "\n  "), strings.Join(readme[id], "\n  "))
		}
	}
	for id := range readme {
		if _, ok := got[id]; !ok {
			t.Errorf("the README lists grants of %s, which no function runs with", id)
		}
	}
}
