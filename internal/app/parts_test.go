package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/mailprobe/mailprobe/engine/dialer"
	"github.com/mailprobe/mailprobe/internal/app"
	"github.com/mailprobe/mailprobe/internal/config"
	"github.com/mailprobe/mailprobe/internal/webhook"
)

// TestWebhookPrivateAddressesHaveTheirOwnSetting: allowing private MX
// hosts (tests, private networks) does not let webhooks, whose URLs come
// from API clients, reach private addresses; allow_private_webhooks does.
func TestWebhookPrivateAddressesHaveTheirOwnSetting(t *testing.T) {
	var calls atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	target := webhook.Target{URL: rcv.URL + "/hook"}

	cfg := config.Default()
	cfg.AllowPrivateMX = true
	err := app.NewWebhook(cfg).Post(context.Background(), target, json.RawMessage(`{}`))
	if !errors.Is(err, dialer.ErrPrivateAddress) || calls.Load() != 0 {
		t.Fatalf("allow_private_mx alone: error %v, %d calls; want the private-address refusal and none", err, calls.Load())
	}

	cfg.AllowPrivateMX, cfg.AllowPrivateWebhooks = false, true
	if err := app.NewWebhook(cfg).Post(context.Background(), target, json.RawMessage(`{}`)); err != nil || calls.Load() != 1 {
		t.Fatalf("allow_private_webhooks: error %v, %d calls", err, calls.Load())
	}
}

// TestAPIConfigModes: serve checks the Host of requests without a secret
// and streams; Lambda, behind API Gateway, does neither.
func TestAPIConfigModes(t *testing.T) {
	cfg := config.Default()
	cfg.AllowedHosts = []string{"mailprobe.internal"}
	local := app.APIConfig(cfg, true, true)
	if local.AnyHost || local.BufferedResponses || len(local.AllowedHosts) != 1 || local.CacheTTL != 0 {
		t.Errorf("serve: %+v", local)
	}
	lambda := app.APIConfig(cfg, true, false)
	if !lambda.AnyHost || !lambda.BufferedResponses {
		t.Errorf("lambda: %+v", lambda)
	}
}
