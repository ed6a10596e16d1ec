package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// DirectFacts is what a direct read returns: the facts of one evaluation and
// the environment's raw payload.
type DirectFacts struct {
	evaluator.Facts
	// Version is the flag's stored version, 0 when unknown.
	Version int64
	// Value is the environment's payload as stored (validated JSON), nil
	// when there is none.
	Value json.RawMessage
}

// ReadFacts reads, in one MULTI/EXEC round trip, only what evaluating one
// flag in one environment for one subject and region needs: the flag's
// switch and version, the environment's fields, and SISMEMBER on its two
// allowlists (never SMEMBERS). An empty subject or region skips that
// membership check. It returns ErrNotFound when the flag hash does not exist
// and a *DecodeError when a stored field does not parse.
//
// The flag is "not found" when its hash has none of description,
// defaultEnabled, updatedAt and version; an environment is missing when its
// hash has none of enabled, rolloutPercent, value and updatedAt.
func (s *Store) ReadFacts(ctx context.Context, key, environment, subject, region string) (DirectFacts, error) {
	if !evaluator.ValidName(key) {
		return DirectFacts{}, fmt.Errorf("flag %q: %w", key, ErrNotFound)
	}
	var flagCmd, envCmd *redis.SliceCmd
	var userCmd, regionCmd *redis.BoolCmd
	envOK := evaluator.ValidName(environment)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		flagCmd = p.HMGet(ctx, s.keys.flag(key), "defaultEnabled", "version", "description", "updatedAt")
		if envOK {
			envCmd = p.HMGet(ctx, s.keys.env(key, environment), "enabled", "rolloutPercent", "value", "updatedAt")
			if subject != "" {
				userCmd = p.SIsMember(ctx, s.keys.users(key, environment), subject)
			}
			if region != "" {
				regionCmd = p.SIsMember(ctx, s.keys.regions(key, environment), region)
			}
		}
		return nil
	})
	if err != nil {
		return DirectFacts{}, fmt.Errorf("read flag %q: %w", key, err)
	}
	fv := flagCmd.Val()
	if allNil(fv) {
		return DirectFacts{}, fmt.Errorf("flag %q: %w", key, ErrNotFound)
	}
	d := DirectFacts{Facts: evaluator.Facts{FlagKey: key, Environment: environment, Subject: subject}}
	if d.DefaultEnabled, err = decodeBoolAt(key, "defaultEnabled", fv[0]); err != nil {
		return DirectFacts{}, err
	}
	v, ok := fv[1].(string)
	if d.Version, err = decodeVersion(key, v, ok); err != nil {
		return DirectFacts{}, err
	}
	if envCmd == nil || allNil(envCmd.Val()) {
		return d, nil
	}
	ev := envCmd.Val()
	path := "environments." + environment
	d.EnvFound = true
	if d.EnvEnabled, err = decodeBoolAt(key, path+".enabled", ev[0]); err != nil {
		return DirectFacts{}, err
	}
	p, ok := ev[1].(string)
	if d.Percent, err = decodePercent(key, path+".rolloutPercent", p, ok); err != nil {
		return DirectFacts{}, err
	}
	val, ok := ev[2].(string)
	if d.Value, err = decodeValue(key, path+".value", val, ok); err != nil {
		return DirectFacts{}, err
	}
	if userCmd != nil {
		d.UserListed = userCmd.Val()
	}
	if regionCmd != nil {
		d.RegionListed = regionCmd.Val()
	}
	return d, nil
}

func allNil(vals []any) bool {
	for _, v := range vals {
		if v != nil {
			return false
		}
	}
	return true
}

func decodeBoolAt(flag, field string, v any) (bool, error) {
	s, ok := v.(string)
	return decodeBool(flag, field, s, ok)
}
