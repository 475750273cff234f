package config

import "time"

// SMTPSettings are the effective parameters for probing one provider: the
// top-level settings with the provider's override applied.
type SMTPSettings struct {
	Method      VerifMethod
	Proxy       *Proxy // nil: no configured proxy (callers may use ProxyPool)
	HelloName   string
	FromEmail   string
	SMTPPort    int
	SMTPTimeout time.Duration
	Retries     int
}

// SMTPFor returns the effective settings for provider p. An empty p (a
// provider without override support) yields the top-level settings. As in
// Reacher, the top-level [proxy] applies unless the override names another.
func (c Config) SMTPFor(p Provider) SMTPSettings {
	s := SMTPSettings{
		Method:      MethodSMTP,
		Proxy:       c.Proxy,
		HelloName:   c.HelloName,
		FromEmail:   c.FromEmail,
		SMTPPort:    c.SMTPPort,
		SMTPTimeout: c.SMTPTimeout,
		Retries:     c.Retries,
	}
	o, ok := c.Overrides[p]
	if !ok {
		return s
	}
	s.Method = o.Type
	if o.Proxy != "" && o.Proxy != DefaultProxyID {
		if px, ok := c.Proxies[o.Proxy]; ok {
			s.Proxy = &px
		}
	}
	if o.HelloName != "" {
		s.HelloName = o.HelloName
	}
	if o.FromEmail != "" {
		s.FromEmail = o.FromEmail
	}
	if o.SMTPPort != 0 {
		s.SMTPPort = o.SMTPPort
	}
	if o.SMTPTimeout != 0 {
		s.SMTPTimeout = o.SMTPTimeout
	}
	if o.Retries != nil {
		s.Retries = *o.Retries
	}
	return s
}
