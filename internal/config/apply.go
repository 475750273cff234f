package config

import (
	"math"
	"time"
)

// defaultProxyPort is used when a proxy section leaves out the port: it is
// the SOCKS port registered with IANA (RFC 1928 §3).
const defaultProxyPort = 1080

// apply copies every setting present in l onto c. It returns the problems
// that cannot be seen after conversion, such as an override that sets
// smtp_timeout to 0 (which would otherwise read as "inherit").
func (l *layer) apply(c *Config) []error {
	setS(&c.BackendName, l.BackendName)
	setS(&c.HTTPHost, l.HTTPHost)
	setI(&c.HTTPPort, l.HTTPPort)
	setS(&c.HelloName, l.HelloName)
	setS(&c.FromEmail, l.FromEmail)
	setD(&c.SMTPTimeout, l.SMTPTimeout, time.Second)
	setI(&c.SMTPPort, l.SMTPPort)
	setI(&c.Retries, l.Retries)
	if l.HeaderSecret != nil {
		c.HeaderSecret = NewSecret(*l.HeaderSecret)
	}
	setD(&c.CacheTTL, l.CacheTTL, time.Second)
	setB(&c.AllowPrivateMX, l.AllowPrivateMX)
	setB(&c.AllowDirect, l.AllowDirect)
	setB(&c.AllowRequestProxy, l.AllowRequestProxy)
	if l.DNS != nil {
		c.DNS = append([]string(nil), (*l.DNS)...)
	}
	setD(&c.GreylistWait, l.GreylistWait, time.Second)
	setS(&c.LogLevel, l.LogLevel)
	setB(&c.LogEmails, l.LogEmails)
	setD(&c.InlineBudget, l.InlineBudget, time.Second)
	setS(&c.GravatarURL, l.GravatarURL)
	if l.HIBPKey != nil {
		c.HIBPKey = NewSecret(*l.HIBPKey)
	}

	if l.Proxy != nil {
		p := Proxy{Port: defaultProxyPort}
		if c.Proxy != nil {
			p = *c.Proxy
		}
		l.Proxy.apply(&p)
		c.Proxy = &p
	}
	for id, lp := range l.Overrides.Proxies {
		p, ok := c.Proxies[id]
		if !ok {
			p = Proxy{Port: defaultProxyPort}
		}
		if lp != nil {
			lp.apply(&p)
		}
		c.Proxies[id] = p
	}
	errs := l.Overrides.apply(c)

	setI(&c.Throttle.PerSecond, l.Throttle.PerSecond)
	setI(&c.Throttle.PerMinute, l.Throttle.PerMinute)
	setI(&c.Throttle.PerHour, l.Throttle.PerHour)
	setI(&c.Throttle.PerDay, l.Throttle.PerDay)
	setB(&c.Worker.Enable, l.Worker.Enable)
	setI(&c.Worker.Concurrency, l.Worker.Concurrency)
	setI(&c.Worker.PerMXConcurrency, l.Worker.RabbitMQ.Concurrency)
	setI(&c.Worker.RcptsPerMinutePerMX, l.Worker.RcptsPerMin)
	setB(&c.Worker.PerAddress, l.Worker.PerAddress)
	setI(&c.Worker.RecipientsPerSession, l.Worker.PerSession)
	setS(&c.Storage.DynamoDBTable, l.Storage.DynamoDBTable)
	setS(&c.Storage.SQSQueueURL, l.Storage.SQSQueueURL)
	setS(&c.Storage.DataDir, l.Storage.DataDir)
	return errs
}

func (lp *layerProxy) apply(p *Proxy) {
	setS(&p.Host, lp.Host)
	setI(&p.Port, lp.Port)
	setS(&p.Username, lp.Username)
	if lp.Password != nil {
		p.Password = NewSecret(*lp.Password)
	}
	setD(&p.Timeout, lp.TimeoutMS, time.Millisecond)
}

// apply merges the provider sections into c.Overrides.
func (o *layerOverrides) apply(c *Config) []error {
	var errs []error
	for _, prov := range Providers() {
		lo := o.provider(prov, false)
		if lo == nil {
			continue
		}
		ov, ok := c.Overrides[prov]
		if !ok {
			// Reacher requires type; mailprobe assumes SMTP, its only
			// real method, when a section leaves it out.
			ov.Type = MethodSMTP
		}
		if lo.Type != nil {
			ov.Type = VerifMethod(*lo.Type)
		}
		setS(&ov.Proxy, lo.Proxy)
		setS(&ov.HelloName, lo.HelloName)
		setS(&ov.FromEmail, lo.FromEmail)
		if lo.SMTPPort != nil && *lo.SMTPPort == 0 {
			errs = append(errs, invalid(overrideKey(prov, "smtp_port"), "must be 1-65535, got 0"))
		}
		setI(&ov.SMTPPort, lo.SMTPPort)
		if lo.SMTPTimeout != nil && *lo.SMTPTimeout == 0 {
			errs = append(errs, invalid(overrideKey(prov, "smtp_timeout"), "must be > 0, got %d", *lo.SMTPTimeout))
		}
		setD(&ov.SMTPTimeout, lo.SMTPTimeout, time.Second)
		if lo.Retries != nil {
			r := *lo.Retries
			ov.Retries = &r
		}
		c.Overrides[prov] = ov
	}
	return errs
}

func setS(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

func setI(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func setB(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}

// setD converts a count of unit into a Duration, saturating instead of
// overflowing so that absurd values still fail validation predictably.
func setD(dst *time.Duration, v *int64, unit time.Duration) {
	if v == nil {
		return
	}
	switch n := *v; {
	case n > math.MaxInt64/int64(unit):
		*dst = math.MaxInt64
	case n < math.MinInt64/int64(unit):
		*dst = math.MinInt64
	default:
		*dst = time.Duration(n) * unit
	}
}
