package samtemplate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolve follows the SAM CLI's rules for which samconfig and which
// template a command reads, and where --guided saves its answers; the
// cases are those of aws-sam-cli issues #2664 and #3616.
func TestResolve(t *testing.T) {
	const built = ".aws-sam/build/template.yaml"
	tests := []struct {
		name      string
		samconfig string // written to the root; "" for none
		inv       Invocation
		template  string // relative to the root
		isBuilt   bool
		saveDir   string
		config    string // the samconfig read
	}{
		{"deploy reads the build", "version = 0.1\n[default.build.parameters]\ntemplate_file = \"infra/template.yaml\"\n",
			Invocation{Command: "deploy"}, built, true, ".", "samconfig.toml"},
		{"build reads samconfig's template", "version = 0.1\n[default.build.parameters]\ntemplate_file = \"infra/template.yaml\"\n",
			Invocation{Command: "build"}, "infra/template.yaml", false, "infra", "samconfig.toml"},
		{"global template_file: deploy packages the source", "version = 0.1\n[default.global.parameters]\ntemplate_file = \"infra/template.yaml\"\n",
			Invocation{Command: "deploy"}, "infra/template.yaml", false, "infra", "samconfig.toml"},
		{"deploy template_file", "version = 0.1\n[default.deploy.parameters]\ntemplate_file = \"infra/template.yaml\"\n",
			Invocation{Command: "deploy"}, "infra/template.yaml", false, "infra", "samconfig.toml"},
		{"--template-file moves samconfig beside it", "version = 0.1\n",
			Invocation{Command: "build", Template: "infra/template.yaml"}, "infra/template.yaml", false, "infra", "infra/samconfig.toml"},
		{"local invoke reads the build", "", Invocation{Command: "local_invoke"}, built, true, ".", "samconfig.toml"},
		{"build without template searches the root", "", Invocation{Command: "build"}, "template.yaml", false, ".", "samconfig.toml"},
		{"config env", "version = 0.1\n[dev.deploy.parameters]\ntemplate_file = \"infra/template.yaml\"\n",
			Invocation{Command: "deploy", ConfigEnv: "dev"}, "infra/template.yaml", false, "infra", "samconfig.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range []string{"infra/template.yaml", built, "template.yaml"} {
				writeFile(t, filepath.Join(root, f), "Resources: {}\n")
			}
			if tt.samconfig != "" {
				writeFile(t, filepath.Join(root, "samconfig.toml"), tt.samconfig)
			}
			inv := tt.inv
			inv.Dir = root
			f, err := inv.Resolve()
			if err != nil {
				t.Fatal(err)
			}
			rel := func(p string) string {
				r, err := filepath.Rel(root, p)
				if err != nil {
					t.Fatal(err)
				}
				return filepath.ToSlash(r)
			}
			if got := rel(f.Template); got != tt.template || f.Built != tt.isBuilt {
				t.Errorf("template %s (built %v), want %s (built %v)", got, f.Built, tt.template, tt.isBuilt)
			}
			if got := rel(f.SaveDir); got != tt.saveDir {
				t.Errorf("guided answers saved in %s, want %s", got, tt.saveDir)
			}
			if got := rel(f.Samconfig); got != tt.config {
				t.Errorf("samconfig %s, want %s", got, tt.config)
			}
		})
	}
}

func TestResolveNoTemplate(t *testing.T) {
	_, err := Invocation{Dir: t.TempDir(), Command: "deploy"}.Resolve()
	if err == nil || !strings.Contains(err.Error(), "no template") {
		t.Errorf("err = %v, want ErrNoTemplate", err)
	}
}

func TestGuidedPrompts(t *testing.T) {
	tpl := `
Parameters:
  Secret: {Type: String, NoEcho: true}
  Level: {Type: String, Default: info}
  Name: {Type: String, Default: a}
Resources:
  Api: {Type: AWS::Serverless::HttpApi}
  AuthApi:
    Type: AWS::Serverless::HttpApi
    Properties: {Auth: {DefaultAuthorizer: Jwt, Authorizers: {Jwt: {}}}}
  Plain: {Type: AWS::ApiGatewayV2::Api}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /a, Method: GET}}
        B: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /b, Method: GET, Auth: {Authorizer: Jwt}}}
        C: {Type: HttpApi, Properties: {ApiId: !Ref AuthApi, Path: /c, Method: GET}}
        D: {Type: HttpApi, Properties: {ApiId: !Ref Plain, Path: /d, Method: GET}}
        E: {Type: HttpApi}
        Q: {Type: SQS, Properties: {Queue: arn}}
`
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "t.yaml"), tpl)
	d, err := Load(Source{Template: filepath.Join(dir, "t.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseSamconfig("version = 0.1\n[default.global.parameters]\nstack_name = \"s\"\n" +
		"[default.deploy.parameters]\nconfirm_changeset = true\nparameter_overrides = \"Level=debug\"\n")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range d.GuidedPrompts(c, "") {
		got = append(got, p.Text+" ["+p.Default+"]")
	}
	want := []string{"Stack Name [s]", "AWS Region []", "Parameter Secret []", "Parameter Level [debug]", "Parameter Name [a]",
		"Confirm changes before deploy [Y/n]", "Allow SAM CLI IAM role creation [Y/n]", "Disable rollback [y/N]",
		"Fn has no authentication. Is this okay? [y/N]", "Fn has no authentication. Is this okay? [y/N]",
		"Save arguments to configuration file [Y/n]", "SAM configuration file [samconfig.toml]", "SAM configuration environment [default]"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("prompts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
