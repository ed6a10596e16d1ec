package redistest

import (
	"fmt"
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Dump returns every key with its contents: DUMP where the server has it
// (redis-server); miniredis dumps only strings, so hashes, sets and streams
// are read out there. Equal dumps mean nothing was written, which is how a
// test shows that a refused command changed nothing.
func Dump(t testing.TB, rdb redis.UniversalClient) map[string]string {
	t.Helper()
	ctx := t.Context()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatalf("redistest.Dump: KEYS: %v", err)
	}
	sort.Strings(keys)
	out := map[string]string{}
	for _, k := range keys {
		if v, err := rdb.Dump(ctx, k).Result(); err == nil {
			out[k] = v
			continue
		}
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatalf("redistest.Dump: TYPE %s: %v", k, err)
		}
		var v any
		switch typ {
		case "hash":
			v, err = rdb.HGetAll(ctx, k).Result()
		case "set":
			var m []string
			m, err = rdb.SMembers(ctx, k).Result()
			sort.Strings(m)
			v = m
		case "stream":
			v, err = rdb.XRange(ctx, k, "-", "+").Result()
		default:
			v, err = rdb.Get(ctx, k).Result()
		}
		if err != nil {
			t.Fatalf("redistest.Dump: reading %s (%s): %v", k, typ, err)
		}
		out[k] = typ + fmt.Sprint(v)
	}
	return out
}
