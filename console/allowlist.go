package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// allowlistPageSize is how many members one allowlist page asks SSCAN for.
const allowlistPageSize = 200

type allowlistData struct {
	Key, Env, List, Match string
	Page                  store.AllowlistPage
	Next                  string
}

// allowlistPage is GET /flags/{key}/allowlist?env=E&list=users|regions
// &match=GLOB&cursor=N: one SSCAN page of an allowlist, for lists too large
// to load whole.
func (c *Console) allowlistPage(w http.ResponseWriter, r *http.Request, id *identity) {
	q := r.URL.Query()
	d := allowlistData{Key: r.PathValue("key"), Env: q.Get("env"), List: q.Get("list"), Match: strings.TrimSpace(q.Get("match"))}
	which := evaluator.ListUsers
	if d.List == "regions" {
		which = evaluator.ListRegions
	} else {
		d.List = "users"
	}
	if !evaluator.ValidName(d.Key) || d.Env == "" || len(d.Match) > 200 {
		c.fail(w, r, id, http.StatusBadRequest, "Name a flag, an environment and a search of at most 200 characters.")
		return
	}
	cursor, _ := strconv.ParseUint(q.Get("cursor"), 10, 64)
	match := ""
	if d.Match != "" {
		match = "*" + escapeGlob(d.Match) + "*"
	}
	pg, err := c.store.ScanAllowlist(r.Context(), d.Key, d.Env, which, cursor, match, allowlistPageSize)
	if err != nil {
		c.fail(w, r, id, http.StatusBadGateway, "Redis did not answer: "+err.Error())
		return
	}
	d.Page = pg
	if pg.Cursor != 0 {
		d.Next = strconv.FormatUint(pg.Cursor, 10)
	}
	c.render(w, r, http.StatusOK, "allowlist", page{Title: d.Key + " — " + d.List, Nav: "list", ID: id, Data: d})
}

// escapeGlob makes a search term match itself in an SSCAN MATCH pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
