package lambdalocal

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// secretType is the resource type of a Secrets Manager secret.
const secretType = "AWS::SecretsManager::Secret"

// secret makes a template's secret locally: its SecretString, or a value
// generated as GenerateSecretString describes (length, excluded
// characters). There is no Secrets Manager here: the value only serves the
// template's dynamic references, {{resolve:secretsmanager:...}}, which
// CloudFormation resolves when it deploys and lambda-local resolves when it
// starts the functions.
func (p *provisioner) secret(id string) error {
	res, _ := p.d.Resource(id)
	name := p.physical(id, 256)
	value := ""
	if n := res.Property("SecretString"); n != nil {
		v, err := p.r.String(n)
		if err != nil {
			return fmt.Errorf("secret %s: %w", id, err)
		}
		value = v
	} else {
		gen, err := p.r.Value(res.Property("GenerateSecretString"))
		if err != nil {
			return fmt.Errorf("secret %s: %w", id, err)
		}
		m, _ := gen.(map[string]any)
		if value, err = generateSecret(m); err != nil {
			return fmt.Errorf("secret %s: %w", id, err)
		}
	}
	// Ref gives a secret's ARN; Secrets Manager appends 6 characters.
	arn := "arn:aws:secretsmanager:" + region + ":" + accountID + ":secret:" + name + "-" + randomSuffix(6)
	p.c.refs[id] = arn
	p.c.secrets[arn], p.c.secrets[name] = value, value
	p.c.note("%s: generated locally for the template's dynamic references; there is no Secrets Manager to read it from", id)
	return nil
}

// Characters of generated secrets, as Secrets Manager's GetRandomPassword
// draws them.
const (
	upper       = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lower       = "abcdefghijklmnopqrstuvwxyz"
	digits      = "0123456789"
	punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_" + "`" + "{|}~"
)

// generateSecret draws a secret as GenerateSecretString says:
// PasswordLength (32), ExcludePunctuation, ExcludeUppercase,
// ExcludeLowercase, ExcludeNumbers, IncludeSpace, ExcludeCharacters. A
// SecretStringTemplate with GenerateStringKey wraps it in a JSON object.
func generateSecret(opts map[string]any) (string, error) {
	flag := func(k string) bool { b, _ := strconv.ParseBool(fmt.Sprint(opts[k])); return b }
	length := 32
	if v, ok := opts["PasswordLength"]; ok {
		n, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil || n < 1 || n > 4096 {
			return "", fmt.Errorf("PasswordLength %v", v)
		}
		length = n
	}
	var set strings.Builder
	for _, c := range []struct {
		chars string
		skip  bool
	}{{upper, flag("ExcludeUppercase")}, {lower, flag("ExcludeLowercase")}, {digits, flag("ExcludeNumbers")},
		{punctuation, flag("ExcludePunctuation")}, {" ", !flag("IncludeSpace")}} {
		if !c.skip {
			set.WriteString(c.chars)
		}
	}
	excluded, _ := opts["ExcludeCharacters"].(string)
	chars := strings.Map(func(r rune) rune {
		if strings.ContainsRune(excluded, r) {
			return -1
		}
		return r
	}, set.String())
	if chars == "" {
		return "", fmt.Errorf("GenerateSecretString excludes every character")
	}
	b := make([]byte, length)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
		if err != nil {
			return "", err
		}
		b[i] = chars[k.Int64()]
	}
	tmpl, _ := opts["SecretStringTemplate"].(string)
	key, _ := opts["GenerateStringKey"].(string)
	if tmpl == "" || key == "" {
		return string(b), nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(tmpl), &obj); err != nil {
		return "", fmt.Errorf("SecretStringTemplate: %w", err)
	}
	obj[key] = string(b)
	out, err := json.Marshal(obj)
	return string(out), err
}

// dynamicRef matches a Secrets Manager dynamic reference:
// {{resolve:secretsmanager:secret-id[:SecretString[:json-key[:stage[:version]]]]}}.
var dynamicRef = regexp.MustCompile(`\{\{resolve:secretsmanager:([^}]*)\}\}`)

// resolveDynamic replaces the Secrets Manager dynamic references of s with
// the values of the secrets lambda-local made; a reference to any other
// secret is an error.
func resolveDynamic(s string, secrets map[string]string) (string, error) {
	var err error
	out := dynamicRef.ReplaceAllStringFunc(s, func(ref string) string {
		parts := strings.Split(dynamicRef.FindStringSubmatch(ref)[1], ":")
		id := parts[0]
		if id == "arn" && len(parts) >= 7 { // arn:aws:secretsmanager:region:account:secret:name
			id, parts = strings.Join(parts[:7], ":"), parts[6:]
		}
		value, ok := secrets[id]
		if !ok {
			err = fmt.Errorf("%s: not a secret of this stack", ref)
			return ref
		}
		if len(parts) > 2 && parts[2] != "" { // a JSON key
			var m map[string]any
			if json.Unmarshal([]byte(value), &m) != nil {
				err = fmt.Errorf("%s: the secret is not a JSON object", ref)
				return ref
			}
			return fmt.Sprint(m[parts[2]])
		}
		return value
	})
	return out, err
}
