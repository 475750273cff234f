package infra

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
)

// Lambda's limits on a function's .zip deployment package.
const (
	maxZipped   = 50 << 20  // 50 MB, the package itself
	maxUnzipped = 250 << 20 // 250 MB, unzipped
)

// TestDeployRehearsal does what `make deploy` has the SAM CLI and
// CloudFormation do, without either: `sam build` (the Makefile's
// build-<Function> targets with ARTIFACTS_DIR, in a copy of a fresh checkout
// without .git), `sam package` (a zip per function, checked as Lambda would
// load it), `sam deploy`'s choice of template and parameters (the
// checkout's samconfig.toml and the README's guided answers), and the SAM
// transform (aws-sam-translator, the library SAM itself uses), whose
// CloudFormation is then checked: functions, roles and their statements,
// the event source mapping, queues, table, alarms, routes and outputs.
func TestDeployRehearsal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both functions; skipped with -short")
	}
	checkout := freshCheckout(t)
	artifacts := samBuild(t, checkout)
	f, err := samtemplate.Invocation{Dir: checkout, Command: "deploy"}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !f.Built || f.Config == nil || f.SaveDir != filepath.Dir(f.Samconfig) {
		t.Fatalf("sam deploy would use %s (built: %v) with %s, saving guided answers in %s", f.Template, f.Built, f.Samconfig, f.SaveDir)
	}
	packaged, keys := samPackage(t, f.Template, artifacts)
	d, err := samtemplate.Load(samtemplate.Source{Template: packaged, Samconfig: f.Samconfig, Command: "deploy",
		Overrides: guidedAnswers(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Missing) > 0 {
		t.Fatalf("sam deploy would have no value for %v", d.Missing)
	}
	cfn := samTransform(t, packaged, d.Params)
	checkGenerated(t, d, cfn, keys)
}

// freshCheckout copies the files of a fresh clone (tracked, and new files
// not ignored) without .git: what CI builds from.
func freshCheckout(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("git", "-C", "..", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "checkout")
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if err := copyFile(filepath.Join("..", name), filepath.Join(dst, name)); errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the work tree
		} else if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// samBuild builds every function of the template `sam build` picks in
// checkout as the SAM CLI's makefile builder does (aws-lambda-builders'
// CustomMakeWorkflow): the function's CodeUri folder is copied to a scratch
// folder without .git and .aws-sam, and `make --makefile <CodeUri>/Makefile
// build-<LogicalId>` runs there with ARTIFACTS_DIR set. It writes
// .aws-sam/build/template.yaml with each CodeUri pointing at its artifacts,
// and returns the artifact folders by logical id.
func samBuild(t *testing.T, checkout string) map[string]string {
	t.Helper()
	f, err := samtemplate.Invocation{Dir: checkout, Command: "build"}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	d, err := samtemplate.Load(samtemplate.Source{Template: f.Template, Samconfig: f.Samconfig, Command: "build", Overrides: sampleSecrets})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := d.LocalStack(nil, nil)
	r := d.Resolver(st)
	buildDir := filepath.Join(checkout, ".aws-sam", "build")
	doc := parseYAML(t, f.Template)
	artifacts := map[string]string{}
	// samconfig.toml has parallel = true: the functions build at once.
	var wg sync.WaitGroup
	errs := make([]error, len(d.Functions()))
	for i, fn := range d.Functions() {
		s, err := fn.Settings(r)
		if err != nil {
			t.Fatal(err)
		}
		if s.BuildMethod != "makefile" {
			t.Fatalf("%s: BuildMethod %q is not rehearsed", fn.ID, s.BuildMethod)
		}
		source := filepath.Join(filepath.Dir(f.Template), s.CodeURI)
		scratch := filepath.Join(t.TempDir(), "scratch")
		if err := copyTree(source, scratch, ".git", ".aws-sam"); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(buildDir, fn.ID)
		artifacts[fn.ID] = dir
		get(doc.Content[0], "Resources", fn.ID, "Properties", "CodeUri").SetString(fn.ID)
		wg.Go(func() {
			cmd := exec.Command("make", "--makefile", filepath.Join(source, "Makefile"), "build-"+fn.ID)
			cmd.Dir = scratch
			cmd.Env = append(os.Environ(), "ARTIFACTS_DIR="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("sam build %s: make build-%s: %w\n%s", fn.ID, fn.ID, err, out)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	writeYAML(t, filepath.Join(buildDir, "template.yaml"), doc)
	return artifacts
}

// samPackage zips each function's artifacts as `sam package` does, checks
// each zip as Lambda loads it (bootstrap at the root, executable, an ELF
// for the function's architecture, within the size limits) and writes the
// template with CodeUri set to the zips' S3 locations. It returns that
// template and the S3 key of each function.
func samPackage(t *testing.T, built string, artifacts map[string]string) (string, map[string]string) {
	t.Helper()
	d, err := samtemplate.Load(samtemplate.Source{Template: built, Overrides: sampleSecrets})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := d.LocalStack(nil, nil)
	r := d.Resolver(st)
	doc := parseYAML(t, built)
	keys := map[string]string{}
	for _, fn := range d.Functions() {
		s, err := fn.Settings(r)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := filepath.Join(filepath.Dir(built), s.CodeURI), artifacts[fn.ID]; got != want {
			t.Errorf("%s: built CodeUri %s, want the artifacts %s", fn.ID, got, want)
		}
		zipped := zipDir(t, artifacts[fn.ID])
		checkPackage(t, fn.ID, zipped, s.Architectures)
		sum := sha256.Sum256(zipped)
		keys[fn.ID] = "mailprobe/" + hex.EncodeToString(sum[:16])
		get(doc.Content[0], "Resources", fn.ID, "Properties", "CodeUri").SetString("s3://mailprobe-rehearsal/" + keys[fn.ID])
	}
	out := filepath.Join(filepath.Dir(built), "..", "packaged.yaml")
	writeYAML(t, out, doc)
	return out, keys
}

// zipDir zips a folder's files at the zip's root, with their modes.
func zipDir(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		h, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h.Name, h.Method = filepath.ToSlash(rel), zip.Deflate
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkPackage checks a function's zip as the provided.al2023 runtime
// loads it: an executable bootstrap at the root, built for the function's
// architecture, and the package within Lambda's size limits.
func checkPackage(t *testing.T, id string, zipped []byte, archs []string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatal(err)
	}
	var unzipped uint64
	var boot *zip.File
	for _, f := range zr.File {
		unzipped += f.UncompressedSize64
		if f.Name == "bootstrap" {
			boot = f
		}
	}
	if boot == nil {
		t.Fatalf("%s: no bootstrap at the zip's root (Runtime.InvalidEntrypoint)", id)
	}
	if boot.Mode()&0o111 == 0 {
		t.Errorf("%s: bootstrap mode %v is not executable", id, boot.Mode())
	}
	rc, err := boot.Open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: bootstrap is not an ELF executable: %v", id, err)
	}
	want := map[string]elf.Machine{"arm64": elf.EM_AARCH64, "x86_64": elf.EM_X86_64}[archs[0]]
	if len(archs) != 1 || ef.Machine != want || ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		t.Errorf("%s: bootstrap is %v %v, want an executable for %v", id, ef.Machine, ef.Type, archs)
	}
	if len(zipped) > maxZipped || unzipped > maxUnzipped {
		t.Errorf("%s: %d bytes zipped, %d unzipped; Lambda takes %d and %d", id, len(zipped), unzipped, maxZipped, maxUnzipped)
	}
	t.Logf("%s: %.1f MB zipped, %.1f MB unzipped, bootstrap %v", id, float64(len(zipped))/1e6, float64(unzipped)/1e6, ef.Machine)
}

// guidedAnswers are the values the README's guided walk-through types for
// the NoEcho parameters, which samconfig.toml never holds.
func guidedAnswers(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, b := range readmeBlocks(t, deployHeading) {
		for _, line := range strings.Split(b, "\n") {
			q, a, ok := strings.Cut(line, ":")
			if name, isParam := strings.CutPrefix(q, "Parameter "); ok && isParam && !strings.Contains(name, "[") {
				out[name] = strings.TrimSpace(a)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("the README's guided walk-through answers no NoEcho parameter")
	}
	return out
}

// samTransform runs aws-sam-translator on the packaged template. Where the
// Python package is missing, the rehearsal says so and skips (in CI, where
// it must run, it fails).
func samTransform(t *testing.T, packaged string, params map[string]string) []byte {
	t.Helper()
	pj := filepath.Join(t.TempDir(), "parameters.json")
	b, _ := json.Marshal(params)
	if err := os.WriteFile(pj, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("python3", filepath.Join("testdata", "sam_transform.py"), packaged, pj)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.Is(err, exec.ErrNotFound) || errors.As(err, &exit) && exit.ExitCode() == 3 {
		msg := "SKIPPED: the SAM transform of the deploy rehearsal did not run: python3 with aws-sam-translator " +
			"(pip install aws-sam-translator) is not installed: " + strings.TrimSpace(stderr.String())
		prereq.Missing(t, msg)
	}
	if err != nil {
		t.Fatalf("SAM transform: %v\n%s", err, stderr.String())
	}
	return out
}

func parseYAML(t *testing.T, path string) *yaml.Node {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return &doc
}

func writeYAML(t *testing.T, path string, doc *yaml.Node) {
	t.Helper()
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b)
}

// copyTree copies a folder, leaving out the entries named in skip.
func copyTree(src, dst string, skip ...string) error {
	return filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, s := range skip {
			if e.Name() == s && path != src {
				if e.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		rel, _ := filepath.Rel(src, path)
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, info.Mode().Perm())
}
