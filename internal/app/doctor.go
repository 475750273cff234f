package app

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/engine/mx"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/doctor"
)

// NewDoctor builds `mailprobe doctor` and GET /v1/doctor from the
// configuration the engine runs with: every proxy of the rotation and every
// named proxy, each checked on its own under the id the engine's errors
// name it by.
func NewDoctor(cfg config.Config) (*doctor.Doctor, error) {
	res, err := mx.New(mx.Config{Servers: cfg.DNS})
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	rotation, named := proxies(cfg)
	all := rotation
	for _, id := range slices.Sorted(maps.Keys(named)) {
		if !slices.ContainsFunc(all, func(p dialer.Proxy) bool { return p.ID == id }) {
			all = append(all, named[id])
		}
	}
	return doctor.New(doctor.Config{
		Resolver:       res,
		DNSServers:     cfg.DNS,
		Proxies:        all,
		AllowDirect:    cfg.AllowDirect,
		AllowPrivateMX: cfg.AllowPrivateMX,
		HelloName:      cfg.HelloName,
		FromEmail:      cfg.FromEmail,
		Port:           cfg.SMTPPort,
		Timeout:        cfg.SMTPTimeout,
		Summary:        summary(all),
		Warnings:       cfg.Warnings,
	})
}

// summary is the config line of the report.
func summary(proxies []dialer.Proxy) string {
	if len(proxies) == 0 {
		return "configuration loaded; no proxy"
	}
	ids := make([]string, len(proxies))
	for i, p := range proxies {
		ids[i] = p.ID
	}
	noun := "proxies"
	if len(ids) == 1 {
		noun = "proxy"
	}
	return fmt.Sprintf("configuration loaded; %d %s: %s", len(ids), noun, strings.Join(ids, ", "))
}
