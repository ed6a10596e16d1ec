package console

import (
	"context"
	"sync"
	"time"
)

// keyIndexTTL is how long the list reuses the flag index it read: changes
// the provider reports clear it at once, so the TTL only bounds how long a
// flag added by a writer that publishes no change notice takes to appear.
const keyIndexTTL = 5 * time.Second

// keyIndex keeps the sorted flag keys (the index, SMEMBERS) between list
// pages, so that paging through 10,000 flags reads the index once, not on
// every page. It holds keys only, never definitions: every page loads its
// flags from Redis.
type keyIndex struct {
	mu   sync.Mutex
	keys []string // sorted; shared read-only once stored
	at   time.Time
	gen  uint64 // bumped by every invalidation
}

func (k *keyIndex) invalidate() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys, k.gen = nil, k.gen+1
}

// keys returns the sorted flag keys, from memory when fresh. The caller must not
// modify the slice.
func (c *Console) keys(ctx context.Context) ([]string, error) {
	k := &c.index
	now := c.cfg.now()
	k.mu.Lock()
	if k.keys != nil && now.Sub(k.at) < keyIndexTTL {
		keys := k.keys
		k.mu.Unlock()
		return keys, nil
	}
	gen := k.gen
	k.mu.Unlock()
	keys, err := c.store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.gen == gen { // not invalidated while we read
		k.keys, k.at = keys, now
	}
	k.mu.Unlock()
	return keys, nil
}
