package provider

import (
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// directCacheMax bounds the direct-mode cache; past it the cache is
// emptied and refilled (a flag set that large should use the snapshot).
const directCacheMax = 4096

// directCache maps (flag, environment) to the variant flag compiled from a
// fingerprinted read, so that direct mode compiles a variant flag once per
// change rather than once per evaluation. The zero value is ready to use.
type directCache struct {
	mu sync.Mutex
	m  map[directKey]directEntry
}

type directKey struct{ flag, env string }

type directEntry struct {
	fingerprint uint64
	compiled    *evaluator.Compiled
}

// directCompiled returns the compiled form of facts.Variant, compiling it
// when the cache has none for this fingerprint.
func (p *Provider) directCompiled(flag, env string, facts store.DirectFacts) (*evaluator.Compiled, error) {
	k := directKey{flag, env}
	c := &p.compiled
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && e.fingerprint == facts.Fingerprint {
		return e.compiled, nil
	}
	compiled, err := evaluator.Compile(*facts.Variant)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= directCacheMax {
		c.m = make(map[directKey]directEntry)
	}
	c.m[k] = directEntry{facts.Fingerprint, compiled}
	c.mu.Unlock()
	return compiled, nil
}

// contextTimeoutEnabled reports whether go-redis honours a context's
// deadline on client's reads and writes (Options.ContextTimeoutEnabled);
// true for a client whose options it cannot see. Without it, a direct read
// waits for ReadTimeout (3 s by default) whatever the caller's deadline.
func contextTimeoutEnabled(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return true
}
