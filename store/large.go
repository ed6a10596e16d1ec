package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// ErrLargeAllowlist is returned by Upsert for a definition that was loaded
// without a large allowlist (see WithLargeSetThreshold): writing it would
// replace millions of members with none.
var ErrLargeAllowlist = errors.New("definition was loaded without its large allowlist")

// WithLargeSetThreshold makes Load leave allowlists of more than n members
// in Redis: the loaded environment then has an empty allowlist and its
// LargeUsers or LargeRegions set to the member count, and evaluation asks
// Redis (Store.IsMember) instead. The provider uses this so that its memory
// does not grow with an allowlist of millions. Default: 0, every allowlist
// is loaded whole — what the admin API, the CLI and exports need.
func WithLargeSetThreshold(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.large = n
		}
	}
}

// readSetScript returns a set's members, or only its size when it has more
// than ARGV[1] members — in one step, so the two cannot disagree.
const readSetScript = `local n = redis.call('SCARD', KEYS[1])
if n > tonumber(ARGV[1]) then return n end
return redis.call('SMEMBERS', KEYS[1])`

// setRead is one allowlist read queued in a load.
type setRead struct {
	members *redis.StringSliceCmd // without a threshold
	either  *redis.Cmd            // with one: members, or a count
}

func (s *Store) readSet(ctx context.Context, p redis.Pipeliner, key string) setRead {
	if s.large <= 0 {
		return setRead{members: p.SMembers(ctx, key)}
	}
	return setRead{either: p.Eval(ctx, readSetScript, []string{key}, s.large)}
}

// err returns the read's error.
func (r setRead) err() error {
	if r.members != nil {
		return r.members.Err()
	}
	return r.either.Err()
}

// val returns the members, or the count when the set was left in Redis.
func (r setRead) val() ([]string, int64) {
	if r.members != nil {
		return r.members.Val(), 0
	}
	switch v := r.either.Val().(type) {
	case int64:
		return nil, v
	case []any:
		out := make([]string, 0, len(v))
		for _, m := range v {
			if s, ok := m.(string); ok {
				out = append(out, s)
			}
		}
		return out, 0
	}
	return nil, 0
}

// IsMember asks whether member is in a flag's allowlist in an environment
// (SISMEMBER): how allowlists left in Redis are evaluated.
func (s *Store) IsMember(ctx context.Context, flagKey, environment string, list evaluator.List, member string) (bool, error) {
	key := s.keys.users(flagKey, environment)
	if list == evaluator.ListRegions {
		key = s.keys.regions(flagKey, environment)
	}
	ok, err := s.rdb.SIsMember(ctx, key, member).Result()
	if err != nil {
		return false, fmt.Errorf("allowlist of flag %q in %q: %w", flagKey, environment, err)
	}
	return ok, nil
}

// checkNotPartial refuses a definition loaded without a large allowlist.
func checkNotPartial(f evaluator.Flag) error {
	for _, name := range f.EnvironmentNames() {
		if f.Environments[name].HasLargeAllowlist() {
			return fmt.Errorf("flag %q, environment %q: %w; load it with a store without WithLargeSetThreshold", f.Key, name, ErrLargeAllowlist)
		}
	}
	return nil
}
