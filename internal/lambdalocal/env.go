package lambdalocal

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/mailprobe/mailprobe/internal/app"
	"github.com/mailprobe/mailprobe/internal/config"
)

// secretSetting is the configuration key of the x-reacher-secret value.
const secretSetting = "header_secret"

// settings are what lambda-local hands every function on top of the
// template's environment: the engine flags, the secret and the emulators.
type settings struct {
	flags      []config.Flag // engine flags that were given
	configFile string        // --config, absolute; "" for none
	secret     string        // RCH__HEADER_SECRET of lambda-local's environment
	sqsURL     string        // emulator endpoints; "" for one not started
	dynamoURL  string
	s3URL      string
}

// runtime describes one function as Lambda runs it.
type runtime struct {
	name    string // the physical function name
	memory  int
	timeout time.Duration
	taskDir string // where the bootstrap lives (LAMBDA_TASK_ROOT)
}

// functionEnv returns the environment of one function: the template's
// variables, with the settings applied through the variables the
// function already reads, then what Lambda itself sets.
//
// A flag replaces every template variable that sets the flag's
// configuration key (--proxy replaces MAILPROBE_PROXIES); a flag whose
// key the template does not set becomes the key's RCH__ variable
// (--dns → RCH__DNS). The secret only replaces the variables the template
// gives the secret to, so a function the template keeps from the secret
// stays without it.
func functionEnv(tmpl map[string]string, s settings, rt runtime) []string {
	env := maps.Clone(tmpl)
	setKey := func(key, value string, addIfAbsent bool) {
		found := false
		for name := range env {
			if k, ok := config.EnvKey(name); ok && k == key {
				env[name], found = value, true
			}
		}
		if !found && addIfAbsent {
			env[config.EnvName(key)] = value
		}
	}
	if s.secret != "" {
		setKey(secretSetting, s.secret, false)
	}
	for _, f := range s.flags {
		setKey(f.Key, f.Value, true)
	}
	if s.configFile != "" {
		env[app.EnvConfig] = s.configFile
	}
	for name, url := range map[string]string{app.EnvSQSEndpoint: s.sqsURL, app.EnvDynamoDBEndpoint: s.dynamoURL, app.EnvS3Endpoint: s.s3URL} {
		if url != "" {
			env[name] = url
		}
	}
	// What Lambda sets in every execution environment, and the
	// credentials the emulators accept. The RIE hands its whole
	// environment to the bootstrap.
	maps.Copy(env, map[string]string{
		"AWS_REGION": region, "AWS_DEFAULT_REGION": region,
		"AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey,
		"AWS_LAMBDA_FUNCTION_NAME":        rt.name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(rt.memory),
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(int(math.Ceil(rt.timeout.Seconds()))),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + rt.name,
		"LAMBDA_TASK_ROOT":                rt.taskDir,
		"_HANDLER":                        "bootstrap",
		"TZ":                              ":UTC",
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
	})
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// wantsSecret reports whether the template gives any function the secret.
func wantsSecret(envs map[string]map[string]string) bool {
	for _, env := range envs {
		for name := range env {
			if k, ok := config.EnvKey(name); ok && k == secretSetting {
				return true
			}
		}
	}
	return false
}
