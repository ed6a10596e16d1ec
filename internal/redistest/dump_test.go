package redistest_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/internal/redistest"
)

func TestDumpSeesEveryChange(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		rdb.HSet(ctx, "h", "a", "1")
		rdb.SAdd(ctx, "s", "x", "y")
		rdb.Set(ctx, "k", "v", 0)
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: "x", Values: []any{"f", "1"}})
		before := redistest.Dump(t, rdb)
		if len(before) != 4 {
			t.Fatalf("Dump saw %d keys, want 4: %v", len(before), before)
		}
		if again := redistest.Dump(t, rdb); len(again) != 4 || again["h"] != before["h"] || again["s"] != before["s"] {
			t.Fatalf("two dumps of an unchanged Redis differ: %v vs %v", before, again)
		}
		rdb.HSet(ctx, "h", "a", "2")
		if after := redistest.Dump(t, rdb); after["h"] == before["h"] {
			t.Fatalf("a changed hash field leaves the dump equal: %q", after["h"])
		}
	})
}
