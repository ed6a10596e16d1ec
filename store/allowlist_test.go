package store_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/redistest"
	"github.com/redisflags/redisflags/store"
)

func TestEditAllowlist(t *testing.T) {
	redistest.Each(t, func(t *testing.T, rdb redis.UniversalClient) {
		ctx := t.Context()
		st := store.New(rdb)
		f := banner()
		prod := f.Environments["production"]
		for i := range store.AuditMaxMembers + 5 {
			prod.AllowlistUsers = append(prod.AllowlistUsers, fmt.Sprintf("m-%05d", i))
		}
		f.Environments["production"] = prod
		stored, err := st.Upsert(ctx, f)
		require.NoError(t, err)
		size := int64(len(prod.AllowlistUsers))

		v, err := st.EditAllowlist(ctx, f.Key, "production", evaluator.ListUsers, []string{"new-1", "new-2", "m-00001"}, []string{"m-00002", "not-there"},
			store.IfVersion(stored.Version), store.Actor("alice"))
		require.NoError(t, err)
		assert.Equal(t, stored.Version+1, v)
		got, err := st.Get(ctx, f.Key)
		require.NoError(t, err)
		assert.Equal(t, v, got.Version)
		assert.Len(t, got.Environments["production"].AllowlistUsers, int(size)+1)
		assert.Contains(t, got.Environments["production"].AllowlistUsers, "new-2")
		assert.NotContains(t, got.Environments["production"].AllowlistUsers, "m-00002")
		assert.Equal(t, []string{"us-west"}, got.Environments["production"].AllowlistRegions, "the other list is untouched")

		entries, err := st.Audit(ctx, f.Key, 1)
		require.NoError(t, err)
		assert.Equal(t, "alice", entries[0].Actor)
		var after struct {
			Version      int64 `json:"version"`
			Environments map[string]struct {
				AllowlistUsers json.RawMessage `json:"allowlistUsers"`
				Value          json.RawMessage `json:"value"`
			} `json:"environments"`
		}
		require.NoError(t, json.Unmarshal(entries[0].After, &after))
		assert.Equal(t, v, after.Version)
		assert.JSONEq(t, fmt.Sprintf(`{"count":%d}`, size+1), string(after.Environments["production"].AllowlistUsers))
		assert.JSONEq(t, `{"title":"Fast checkout","n":12345678901234567890}`, string(after.Environments["production"].Value))
		assert.Contains(t, string(after.Environments["production"].Value), "12345678901234567890", "payload numbers kept exactly")

		// Small lists are recorded member by member.
		_, err = st.EditAllowlist(ctx, f.Key, "production", evaluator.ListRegions, []string{"eu-west"}, nil)
		require.NoError(t, err)
		entries, err = st.Audit(ctx, f.Key, 1)
		require.NoError(t, err)
		assert.Contains(t, string(entries[0].After), `"allowlistRegions":["eu-west","us-west"]`)

		_, err = st.EditAllowlist(ctx, f.Key, "production", evaluator.ListUsers, []string{"x"}, nil, store.IfVersion(stored.Version))
		require.ErrorIs(t, err, store.ErrVersionMismatch)
		_, err = st.EditAllowlist(ctx, f.Key, "production", evaluator.ListUsers, []string{"x"}, []string{"x"})
		var ve *evaluator.ValidationError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, "environments.production.allowlistUsers", ve.Problems[0].Field)
		_, err = st.EditAllowlist(ctx, f.Key, "qa", evaluator.ListUsers, []string{"x"}, nil)
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = st.EditAllowlist(ctx, "missing", "production", evaluator.ListUsers, []string{"x"}, nil)
		require.ErrorIs(t, err, store.ErrNotFound)
		after2, err := st.Get(ctx, f.Key)
		require.NoError(t, err)
		assert.Equal(t, v+1, after2.Version, "the refused edits wrote nothing")
	})
}
