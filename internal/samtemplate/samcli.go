package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// BuiltTemplate is where `sam build` writes the template it built, relative
// to the directory it runs in: CodeUri there points at the build artifacts.
var BuiltTemplate = filepath.Join(".aws-sam", "build", "template.yaml")

// Invocation is a SAM CLI command as typed: the directory it runs in and the
// flags that decide which files it reads.
type Invocation struct {
	Dir string // working directory
	// Command is the samconfig section: build, deploy, package,
	// local_invoke, local_start_api.
	Command string
	// Template is --template-file as given on the command line, "" when
	// not given.
	Template   string
	ConfigFile string // --config-file, "" when not given
	ConfigEnv  string // --config-env, "" for "default"
}

// Files are what an Invocation reads and writes, as the SAM CLI resolves
// them (samcli/cli/cli_config_file.py configuration_callback and
// samcli/commands/_utils/options.py get_or_default_template_file_name).
type Files struct {
	// Samconfig is the configuration file read, its path even when it does
	// not exist; Config is nil then.
	Samconfig string
	Config    *Samconfig
	// Template is the template the command uses; Built reports that it is
	// sam build's output rather than a source template.
	Template string
	Built    bool
	// SaveDir is where `sam deploy --guided` (and --save-params) write
	// their samconfig.toml: the folder of the template as it was given.
	SaveDir string
}

// readsBuild lists the commands whose default template is sam build's
// output when it exists.
var readsBuild = map[string]bool{"deploy": true, "package": true, "local_invoke": true,
	"local_start_api": true, "local_start_lambda": true}

// ErrNoTemplate is returned when a command would find no template.
var ErrNoTemplate = errors.New("no template")

// Resolve finds the files as the SAM CLI does. Both --template-file and the
// hidden configuration option are eager click options: a --template-file
// typed on the command line is processed first and moves the samconfig
// lookup to the template's folder; otherwise samconfig is read from the
// working directory, and a template_file key in it (under the command's or
// the global parameters) stands for --template-file. Without either, the
// command searches the working directory: .aws-sam/build/template.yaml first
// for the commands that deploy or run the build, then template.yaml,
// template.yml, template.json. Guided answers go beside the template as it
// was given (the working directory when none was).
func (inv Invocation) Resolve() (Files, error) {
	dir := inv.Dir
	if dir == "" {
		dir = "."
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(dir, p)
	}
	configDir := dir
	if inv.Template != "" {
		configDir = filepath.Dir(abs(inv.Template))
	}
	var f Files
	switch {
	case inv.ConfigFile == "":
		f.Samconfig = filepath.Join(configDir, defaultSamconfigName(configDir))
	case filepath.IsAbs(inv.ConfigFile):
		f.Samconfig = inv.ConfigFile
	default:
		f.Samconfig = filepath.Join(configDir, inv.ConfigFile)
	}
	c, err := OpenSamconfig(f.Samconfig)
	switch {
	case err == nil:
		f.Config = c
	case errors.Is(err, os.ErrNotExist) && inv.ConfigFile == "":
	default:
		return f, err
	}
	given := inv.Template
	if given == "" && f.Config != nil {
		env := inv.ConfigEnv
		if env == "" {
			env = "default"
		}
		for _, key := range []string{"template_file", "template"} {
			if v, ok := f.Config.Value(env, inv.Command, key); ok {
				if s, ok := v.(string); ok && s != "" {
					given = s
					break
				}
			}
		}
	}
	if given != "" {
		f.Template, f.SaveDir = abs(given), filepath.Dir(abs(given))
		return f, nil
	}
	f.SaveDir = dir
	search := []string{"template.yaml", "template.yml", "template.json"}
	if readsBuild[inv.Command] {
		search = append([]string{BuiltTemplate}, search...)
	}
	for _, name := range search {
		if _, err := os.Stat(abs(name)); err == nil {
			f.Template, f.Built = abs(name), name == BuiltTemplate
			return f, nil
		}
	}
	return f, fmt.Errorf("sam %s in %s: %w (looked for %v)", inv.Command, dir, ErrNoTemplate, search)
}

// defaultSamconfigName is samconfig.toml, or samconfig.yaml/.yml when only
// those exist, as SamConfig.get_default_file picks it.
func defaultSamconfigName(dir string) string {
	for _, name := range []string{"samconfig.toml", "samconfig.yaml", "samconfig.yml"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return name
		}
	}
	return "samconfig.toml"
}
