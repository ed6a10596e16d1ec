package server

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// PublicPage is the most allowlist members GET /api/flags/{flagKey} puts
// in its answer per environment and list. A larger allowlist is answered
// with its first SSCAN page (about PublicPage members), its size
// ("allowlistUsersCount") and a cursor ("allowlistUsersCursor") for
// GET /api/flags/{flagKey}/environments/{env}/users?cursor=N&count=M,
// so that no public request makes Redis send an allowlist of millions
// (SMEMBERS would block it, and the answer would be hundreds of MB).
const PublicPage = 100

// publicStore reads definitions for the public routes: allowlists above
// PublicPage members stay in Redis.
func publicStore(rdb redis.UniversalClient, st *store.Store) *store.Store {
	if st == nil {
		return nil
	}
	return store.New(rdb, store.WithKeyPrefix(st.Prefix()), store.WithLargeSetThreshold(PublicPage))
}

// writePublicFlag answers f (read through publicStore) in the tutorial's
// shape; an environment whose allowlist stayed in Redis gets its first
// page, count and cursor.
func (s *Server) writePublicFlag(w http.ResponseWriter, r *http.Request, f evaluator.Flag) {
	extra := map[string]map[string]any{}
	wf := WireFlag(f)
	for name, env := range wf.Environments {
		for _, l := range []struct {
			list  evaluator.List
			n     int64
			field string
		}{{evaluator.ListUsers, env.LargeUsers, "allowlistUsers"}, {evaluator.ListRegions, env.LargeRegions, "allowlistRegions"}} {
			if l.n == 0 {
				continue
			}
			p, err := s.store.ScanAllowlist(r.Context(), f.Key, name, l.list, 0, "", PublicPage)
			if err != nil {
				writeStoreError(w, f.Key, err)
				return
			}
			if extra[name] == nil {
				extra[name] = map[string]any{}
			}
			extra[name][l.field] = p.Members
			extra[name][l.field+"Count"] = p.Size
			extra[name][l.field+"Cursor"] = strconv.FormatUint(p.Cursor, 10)
		}
		env.LargeUsers, env.LargeRegions = 0, 0
		wf.Environments[name] = env
	}
	if len(extra) == 0 {
		writeJSON(w, http.StatusOK, wf)
		return
	}
	// Patch the large environments into the tutorial's JSON.
	b, err := json.Marshal(wf)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "flag %q: encode: %v", f.Key, err)
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		writeError(w, http.StatusInternalServerError, "flag %q: encode: %v", f.Key, err)
		return
	}
	envs, _ := doc["environments"].(map[string]any)
	for name, fields := range extra {
		if e, ok := envs[name].(map[string]any); ok {
			for k, v := range fields {
				e[k] = v
			}
		}
	}
	writeJSON(w, http.StatusOK, doc)
}

// allowlistPage is GET /api/flags/{flagKey}/environments/{env}/users (and
// /regions): one SSCAN page, ?cursor= (0 or absent starts) and ?count=
// (a hint, default PublicPage, at most store.MaxScanCount). It answers
// {"members":[…],"cursor":"N","count":size}; cursor "0" means done.
func (s *Server) allowlistPage(list evaluator.List) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, ok := pathKey(w, r, "flagKey")
		if !ok {
			return
		}
		env := r.PathValue("env")
		if !evaluator.ValidName(env) {
			writeJSON(w, http.StatusBadRequest, apiError{Error: "environment " + strconv.Quote(shorten(env, 64)) + " in the URL is not a valid name",
				Problems: []problem{{Field: "env", Message: "may hold only letters, digits, '.', '_' and '-'"}}})
			return
		}
		q := r.URL.Query()
		var cursor uint64
		if c := q.Get("cursor"); c != "" {
			v, err := strconv.ParseUint(c, 10, 64)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, apiError{Error: "cursor " + strconv.Quote(shorten(c, 32)) + " is not a cursor this route gave",
					Problems: []problem{{Field: "cursor", Message: "an unsigned integer"}}})
				return
			}
			cursor = v
		}
		count := int64(PublicPage)
		if c := q.Get("count"); c != "" {
			v, err := strconv.ParseInt(c, 10, 64)
			if err != nil || v < 1 || v > store.MaxScanCount {
				writeJSON(w, http.StatusBadRequest, apiError{Error: "count " + strconv.Quote(shorten(c, 32)) + " must be 1 to " + strconv.Itoa(store.MaxScanCount),
					Problems: []problem{{Field: "count", Message: "1 to " + strconv.Itoa(store.MaxScanCount)}}})
				return
			}
			count = v
		}
		if _, err := s.pub.Get(r.Context(), key); err != nil {
			writeStoreError(w, key, err)
			return
		}
		p, err := s.store.ScanAllowlist(r.Context(), key, env, list, cursor, "", count)
		if err != nil {
			writeStoreError(w, key, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"members": p.Members, "cursor": strconv.FormatUint(p.Cursor, 10), "count": p.Size})
	}
}
