package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// seedDemo writes a small, realistic flag set with some history, for the
// screenshots.
func seedDemo(t *testing.T, h *harness) {
	t.Helper()
	ctx := context.Background()
	flags := []evaluator.Flag{
		{Key: "checkout-banner", Description: "The new checkout banner", DefaultEnabled: true, ExpiresAt: "2027-03-31",
			Metadata: map[string]any{"owner": "payments", "tags": "web, checkout"},
			Environments: map[string]evaluator.Environment{
				"production": {Enabled: true, RolloutPercent: 5, Value: json.RawMessage(`{"title":"Fast checkout","color":"green"}`), AllowlistUsers: []string{"user-123", "qa-team-1"}, AllowlistRegions: []string{"eu-west"}},
				"staging":    {Enabled: true, RolloutPercent: 100},
			}},
		{Key: "dark-mode", Description: "Dark theme for the web app", DefaultEnabled: true, Metadata: map[string]any{"owner": "design"},
			Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 50}, "staging": {Enabled: true, RolloutPercent: 100}}},
		{Key: "legacy-search", Description: "Old search, to be removed", DefaultEnabled: true, ExpiresAt: "2026-06-30", Metadata: map[string]any{"owner": "search"},
			Environments: map[string]evaluator.Environment{"production": {Enabled: false}, "staging": {Enabled: false}}},
		{Key: "pricing-page", Description: "Pricing page experiment", DefaultEnabled: true, Metadata: map[string]any{"owner": "growth", "tags": "experiment"},
			Environments:   map[string]evaluator.Environment{"production": {Enabled: true}, "staging": {Enabled: true}},
			Variants:       map[string]json.RawMessage{"control": json.RawMessage(`"classic"`), "treatment": json.RawMessage(`"new"`)},
			DefaultVariant: "control",
			Split:          &evaluator.Split{Weights: []evaluator.WeightedValue{{Variant: "control", Weight: 80}, {Variant: "treatment", Weight: 20}}}},
		{Key: "recommendations-v2", Description: "New recommendation model", DefaultEnabled: true, Metadata: map[string]any{"owner": "ml"},
			Environments: map[string]evaluator.Environment{"production": {Enabled: true, RolloutPercent: 25, Value: json.RawMessage(`{"model":"v2","limit":12}`)}, "staging": {Enabled: true, RolloutPercent: 100}}},
		{Key: "maintenance-mode", Description: "Kill switch: read-only mode", DefaultEnabled: true, Metadata: map[string]any{"owner": "sre", "tags": "kill-switch"},
			Environments: map[string]evaluator.Environment{"production": {Enabled: false}, "staging": {Enabled: false}}},
	}
	for i := range 8 {
		flags = append(flags, evaluator.Flag{Key: fmt.Sprintf("ops-cache-tier-%d", i+1), Description: "Cache tier switch", DefaultEnabled: true,
			Environments: map[string]evaluator.Environment{"production": {Enabled: i%3 != 0, RolloutPercent: []int{0, 1, 5, 25, 50, 100}[i%6]}}})
	}
	for _, f := range flags {
		_, err := h.st.Upsert(ctx, f, store.Actor("setup"))
		require.NoError(t, err)
	}
	// Some history on checkout-banner, by two people.
	alice, bob := h.client(t).signIn("alice"), h.client(t).signIn("bob")
	v := h.get(t, "checkout-banner").Version
	alice.edit("checkout-banner", url.Values{"op": {"rollout"}, "env": {"production"}, "percent": {"1"}, "version": {fmt.Sprint(v)}})
	bob.edit("checkout-banner", url.Values{"op": {"rollout"}, "env": {"production"}, "percent": {"5"}, "version": {fmt.Sprint(v + 1)}})
	alice.edit("checkout-banner", url.Values{"op": {"env"}, "env": {"production"}, "enabled": {"true"}, "percent": {"25"},
		"value": {`{"title":"Faster checkout","color":"green"}`}, "users": {"user-123\nqa-team-1"}, "regions": {"eu-west"}, "version": {fmt.Sprint(v + 2)}})
	require.Equal(t, v+3, h.get(t, "checkout-banner").Version)
	h.waitVersion(t, "checkout-banner", v+3)
}
