package engine

import "strings"

// Provider is a mail-hosting provider recognised by its MX host names.
type Provider string

// The providers with rules of their own, named as in Reacher's [overrides.*].
const (
	Other      Provider = ""
	Gmail      Provider = "gmail"
	HotmailB2B Provider = "hotmailb2b"
	HotmailB2C Provider = "hotmailb2c"
	Yahoo      Provider = "yahoo"
	Mimecast   Provider = "mimecast"
	Proofpoint Provider = "proofpoint"
)

// Providers lists every provider with rules, for configuration checks.
// Each call returns a new slice, so no caller can change another's list.
func Providers() []Provider {
	return []Provider{Gmail, HotmailB2B, HotmailB2C, Yahoo, Mimecast, Proofpoint}
}

// providerSuffixes maps MX host suffixes to providers. Order matters: the
// Outlook consumer suffix is a suffix of the business one's parent.
var providerSuffixes = [...]struct {
	suffix   string
	provider Provider
}{
	{".google.com.", Gmail},
	{".googlemail.com.", Gmail},
	{".olc.protection.outlook.com.", HotmailB2C},
	{".protection.outlook.com.", HotmailB2B},
	{".yahoodns.net.", Yahoo},
	{".mimecast.com.", Mimecast},
	{".pphosted.com.", Proofpoint},
	{".ppe-hosted.com.", Proofpoint},
}

// DetectProvider names the provider behind an MX host (FQDN, trailing dot).
func DetectProvider(mxHost string) Provider {
	h := strings.ToLower(mxHost)
	if !strings.HasSuffix(h, ".") {
		h += "."
	}
	for _, s := range providerSuffixes {
		if strings.HasSuffix(h, s.suffix) {
			return s.provider
		}
	}
	return Other
}
