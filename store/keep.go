package store

import "github.com/redisflags/redisflags/evaluator"

// KeepLargeAllowlists lets [Store.Upsert] write a definition loaded with
// [WithLargeSetThreshold]: an allowlist that was left in Redis (the
// environment's LargeUsers or LargeRegions above zero, its members empty)
// keeps its members as they are stored, untouched by the write, instead of
// the write being refused with [ErrLargeAllowlist]. Every other field is
// written as given; an environment the definition no longer has is deleted
// with its allowlists, large or not. This is how an editor that never loads
// a million-member allowlist (the console) still flips the flag's switches.
func KeepLargeAllowlists() WriteOption {
	return func(c *writeConfig) { c.keepLarge = true }
}

// deleteKeysKeeping queues the delete of a flag's old keys before an
// upsert of next; with keep, the large allowlists of environments next
// still has are left alone.
func (s *Store) deleteKeysKeeping(p writer, key string, oldEnvs []string, next *evaluator.Flag, keep bool) {
	if !keep {
		s.deleteKeys(p, key, oldEnvs)
		return
	}
	ks := []string{s.keys.flag(key), s.keys.envs(key)}
	for _, e := range oldEnvs {
		ks = append(ks, s.keys.env(key, e))
		env, still := next.Environments[e]
		if !still || env.LargeUsers == 0 {
			ks = append(ks, s.keys.users(key, e))
		}
		if !still || env.LargeRegions == 0 {
			ks = append(ks, s.keys.regions(key, e))
		}
	}
	p.del(ks...)
	p.srem(s.keys.rollouts(), key)
}
