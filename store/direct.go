package store

import (
	"context"
	"encoding/json"
	"errors"
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
	// Variant is set for a variant flag, whose evaluation needs its rules
	// rather than Facts: the definition, decoded and validated, holding the
	// requested environment as stored and the flag's other environments as
	// disabled placeholders (enough to evaluate this one environment; not a
	// definition to write back). Facts is then only partly filled.
	Variant *evaluator.Flag
	// Fingerprint identifies what Variant was decoded from, so that callers
	// can cache its compiled form: equal fingerprints, equal definitions.
	Fingerprint uint64
}

// ReadFacts reads, in one MULTI/EXEC round trip, only what evaluating one
// flag in one environment for one subject and region needs: the flag hash
// (switch, version and, for a variant flag, its rules), the flag's set of
// environment names (a handful: a variant flag evaluates "environment
// missing" only when there are others), the environment's fields, and
// SISMEMBER on its two allowlists (never SMEMBERS of an allowlist). An empty subject or region skips that
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
	var flagCmd *redis.MapStringStringCmd
	var envCmd *redis.SliceCmd
	var envsCmd *redis.StringSliceCmd
	var userCmd, regionCmd *redis.BoolCmd
	var simpleCmd *redis.StringCmd
	envOK := evaluator.ValidName(environment)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		// The whole flag hash: a tutorial flag's is four or five short
		// fields, and a variant flag's rules live there too, so one round
		// trip serves both kinds.
		flagCmd = p.HGetAll(ctx, s.keys.flag(key))
		simpleCmd = s.simpleGet(ctx, p, key)
		envsCmd = p.SMembers(ctx, s.keys.envs(key))
		if envOK {
			envCmd = p.HMGet(ctx, s.keys.env(key, environment), "enabled", "rolloutPercent", "value", "updatedAt", "rollout")
			if subject != "" {
				userCmd = p.SIsMember(ctx, s.keys.users(key, environment), subject)
			}
			if region != "" {
				regionCmd = p.SIsMember(ctx, s.keys.regions(key, environment), region)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) { // Nil: no simple flag of that name
		if !isWrongType(err) {
			return DirectFacts{}, fmt.Errorf("read flag %q: %w", key, err)
		}
		// A key of this flag holds another type of value: the flag fails
		// to parse, naming the key, as in snapshot mode.
		path := "environments." + environment
		checks := []keyRead{
			{flagCmd.Err(), "definition", s.keys.flag(key), "hash"},
			{envsCmd.Err(), "environments", s.keys.envs(key), "set"},
		}
		if envCmd != nil {
			checks = append(checks, keyRead{envCmd.Err(), path, s.keys.env(key, environment), "hash"})
		}
		if userCmd != nil {
			checks = append(checks, keyRead{userCmd.Err(), path + ".allowlistUsers", s.keys.users(key, environment), "set"})
		}
		if regionCmd != nil {
			checks = append(checks, keyRead{regionCmd.Err(), path + ".allowlistRegions", s.keys.regions(key, environment), "set"})
		}
		for _, c := range checks {
			if werr := wrongTypeError(key, c.field, c.key, c.want, c.err); werr != nil {
				return DirectFacts{}, werr
			}
		}
		return DirectFacts{}, fmt.Errorf("read flag %q: %w", key, err)
	}
	fh := flagCmd.Val()
	if len(fh) == 0 {
		if simpleCmd != nil && simpleCmd.Err() == nil {
			r := simpleRecord(key, simpleCmd.Val())
			if r.Err != nil {
				return DirectFacts{}, r.Err
			}
			return DirectFacts{Variant: &r.Flag, Fingerprint: r.Fingerprint}, nil
		}
		return DirectFacts{}, fmt.Errorf("flag %q: %w", key, ErrNotFound)
	}
	if _, ok := fh["variants"]; ok {
		return s.variantFacts(key, environment, fh, envsCmd.Val(), envCmd)
	}
	d := DirectFacts{Facts: evaluator.Facts{FlagKey: key, Environment: environment, Subject: subject}}
	d.DefaultEnabled, err = decodeBool(key, "defaultEnabled", fh["defaultEnabled"], hasField(fh, "defaultEnabled"))
	if err != nil {
		return DirectFacts{}, err
	}
	if d.Version, err = decodeVersion(key, fh["version"], hasField(fh, "version")); err != nil {
		return DirectFacts{}, err
	}
	if d.Scheme, err = evaluator.ParseScheme(fh["bucketing"]); err != nil {
		return DirectFacts{}, decodeError(key, "bucketing", fh["bucketing"], err.Error())
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
	ro, ok := ev[4].(string)
	if d.Facts.Rollout, err = compileStoredRollout(key, path+".rollout", ro, ok); err != nil {
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

// variantFacts decodes a variant flag for one environment (see
// DirectFacts.Variant).
func (s *Store) variantFacts(key, environment string, flagHash map[string]string, envNames []string, envCmd *redis.SliceCmd) (DirectFacts, error) {
	raw := rawFlag{key: key, hash: flagHash, envs: make(map[string]rawEnv, len(envNames))}
	for _, name := range envNames {
		if name == environment && envCmd != nil && !allNil(envCmd.Val()) {
			h := map[string]string{}
			for i, field := range []string{"enabled", "rolloutPercent", "value", "updatedAt", "rollout"} {
				if v, ok := envCmd.Val()[i].(string); ok {
					h[field] = v
				}
			}
			raw.envs[name] = rawEnv{hash: h}
		} else {
			raw.envs[name] = rawEnv{}
		}
	}
	f, err := raw.decode()
	if err != nil {
		return DirectFacts{}, err
	}
	return DirectFacts{Variant: &f, Fingerprint: raw.fingerprint()}, nil
}

func hasField(h map[string]string, name string) bool {
	_, ok := h[name]
	return ok
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
