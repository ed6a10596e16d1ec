package provider

import (
	"context"
	"sync"
	"time"

	"github.com/redisflags/redisflags/evaluator"
)

// memberCacheMax bounds the membership cache; when full it is emptied.
const memberCacheMax = 65536

// memberCache holds recent answers about allowlists left in Redis (see
// WithLargeAllowlists). The zero value is ready to use; safe for concurrent
// use.
type memberCache struct {
	mu sync.Mutex
	m  map[memberKey]memberAnswer
}

type memberKey struct {
	flag, env, member string
	list              evaluator.List
}

type memberAnswer struct {
	ok      bool
	expires time.Time
}

// forget drops every answer about the named flags: their allowlists may
// have changed.
func (c *memberCache) forget(flags []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) == 0 {
		return
	}
	drop := make(map[string]bool, len(flags))
	for _, f := range flags {
		drop[f] = true
	}
	for k := range c.m {
		if drop[k.flag] {
			delete(c.m, k)
		}
	}
}

// memberAsk is the evaluator.Membership of one evaluation: it carries the
// caller's context to the SISMEMBER it may send.
type memberAsk struct {
	p   *Provider
	ctx context.Context
}

// IsMember answers from the cache, or asks Redis and remembers the answer
// for the configured time.
func (a *memberAsk) IsMember(flag, env string, list evaluator.List, member string) (bool, error) {
	c := &a.p.members
	k := memberKey{flag: flag, env: env, member: member, list: list}
	now := time.Now()
	c.mu.Lock()
	ans, hit := c.m[k]
	c.mu.Unlock()
	if hit && now.Before(ans.expires) {
		return ans.ok, nil
	}
	ok, err := a.p.store.IsMember(a.ctx, flag, env, list, member)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= memberCacheMax {
		c.m = make(map[memberKey]memberAnswer)
	}
	c.m[k] = memberAnswer{ok: ok, expires: now.Add(a.p.cfg.memberTTL)}
	c.mu.Unlock()
	return ok, nil
}
