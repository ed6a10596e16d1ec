// Package tutorial writes flags with raw Redis commands the way the Redis
// feature-flags tutorial's application does (docs/design.md §2), knowing nothing of
// this project's store: no version field, no change notice. Tests use it to
// prove that data written by that application loads and evaluates the same.
package tutorial

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Env is one environment as the tutorial's application receives it.
type Env struct {
	Enabled          bool
	RolloutPercent   int
	Value            any // marshalled with encoding/json, as JSON.stringify would
	AllowlistUsers   []string
	AllowlistRegions []string
}

// Flag is a flag as the tutorial's application receives it.
type Flag struct {
	Key            string
	Description    string
	DefaultEnabled bool
	Envs           map[string]Env
}

// UpdatedAt is the timestamp these writes store.
const UpdatedAt = "2026-03-19T12:00:00.000Z"

// Write stores f under prefix with the tutorial's HSET/SADD sequence inside
// MULTI/EXEC, first deleting the keys of the environments now stored.
func Write(ctx context.Context, rdb redis.UniversalClient, prefix string, f Flag) error {
	base := prefix + ":flag:" + f.Key
	old, err := rdb.SMembers(ctx, base+":environments").Result()
	if err != nil {
		return err
	}
	_, err = rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range old {
			p.Del(ctx, base+":environment:"+e, base+":environment:"+e+":users", base+":environment:"+e+":regions")
		}
		p.Del(ctx, base, base+":environments")
		p.HSet(ctx, base, "description", f.Description, "defaultEnabled", strconv.FormatBool(f.DefaultEnabled), "updatedAt", UpdatedAt)
		for name, env := range f.Envs {
			p.SAdd(ctx, base+":environments", name)
			value, err := json.Marshal(env.Value)
			if err != nil {
				return err
			}
			eb := base + ":environment:" + name
			p.HSet(ctx, eb, "enabled", strconv.FormatBool(env.Enabled),
				"rolloutPercent", strconv.Itoa(env.RolloutPercent),
				"value", string(value), "updatedAt", UpdatedAt)
			for _, u := range env.AllowlistUsers {
				p.SAdd(ctx, eb+":users", u)
			}
			for _, r := range env.AllowlistRegions {
				p.SAdd(ctx, eb+":regions", r)
			}
		}
		p.SAdd(ctx, prefix+":index", f.Key)
		return nil
	})
	return err
}

// CheckoutBanner is the tutorial's example flag.
func CheckoutBanner() Flag {
	return Flag{
		Key:            "checkout-banner",
		Description:    "Show the fast-checkout banner",
		DefaultEnabled: true,
		Envs: map[string]Env{
			"production": {
				Enabled:          true,
				RolloutPercent:   25,
				Value:            map[string]any{"title": "Fast checkout"},
				AllowlistUsers:   []string{"user-123"},
				AllowlistRegions: []string{"us-west"},
			},
			"staging": {Enabled: true, RolloutPercent: 100, Value: map[string]any{"title": "Staging checkout"}},
		},
	}
}
