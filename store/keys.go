package store

import "strings"

// DefaultKeyPrefix is the tutorial's key prefix.
const DefaultKeyPrefix = "feature-flags"

// keys builds the Redis key names of one prefix.
type keys struct{ prefix string }

func (k keys) index() string                  { return k.prefix + ":index" }
func (k keys) changes() string                { return k.prefix + ":changes" }
func (k keys) flag(key string) string         { return k.prefix + ":flag:" + key }
func (k keys) envs(key string) string         { return k.flag(key) + ":environments" }
func (k keys) env(key, env string) string     { return k.flag(key) + ":environment:" + env }
func (k keys) users(key, env string) string   { return k.env(key, env) + ":users" }
func (k keys) regions(key, env string) string { return k.env(key, env) + ":regions" }

// flagKeyOf returns the flag key a Redis key belongs to ("P:flag:K…" → K), or
// false when the key is not a flag's. Flag keys never contain ':', so the
// first ':' after the flag key ends it.
func (k keys) flagKeyOf(redisKey string) (string, bool) {
	rest, ok := strings.CutPrefix(redisKey, k.prefix+":flag:")
	if !ok || rest == "" {
		return "", false
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return rest, rest != ""
}
