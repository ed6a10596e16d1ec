package console

import (
	"errors"
	"net/http"
	"net/url"
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
	Version               int64
	Add, Remove           string // what a refused edit posted
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
	f, err := c.store.Get(r.Context(), d.Key)
	if err != nil {
		c.fail(w, r, id, http.StatusNotFound, "There is no flag "+strconv.Quote(d.Key)+".")
		return
	}
	d.Version = f.Version
	p := page{Title: d.Key + " — " + d.List, Nav: "list", ID: id, Data: d, Notice: noticeOf(r)}
	c.render(w, r, http.StatusOK, "allowlist", p)
}

// editAllowlist is POST /flags/{key}/allowlist: members added ("add", one
// a line) and removed ("remove", one a line, and the ticked "drop" boxes)
// with store.EditAllowlist — SADD and SREM, never the whole list — checked
// against the version the page showed. A refusal shows the page again with
// the reason and what was typed.
func (c *Console) editAllowlist(w http.ResponseWriter, r *http.Request, id *identity) {
	form := r.PostForm
	key, env := r.PathValue("key"), form.Get("env")
	which, listName := evaluator.ListUsers, "users"
	if form.Get("list") == "regions" {
		which, listName = evaluator.ListRegions, "regions"
	}
	field := "environments." + env + ".allowlist" + map[string]string{"users": "Users", "regions": "Regions"}[listName]
	seen, ok := formVersion(form)
	if !ok {
		c.fail(w, r, id, http.StatusBadRequest, "The form has no version: reload the page.")
		return
	}
	add, err := list(form.Get("add"), field)
	var remove []string
	if err == nil {
		remove, err = list(form.Get("remove"), field)
	}
	remove = append(remove, form["drop"]...)
	if err == nil {
		err = c.guard(r.Context(), key, nil)
	}
	if err == nil {
		_, err = c.store.EditAllowlist(r.Context(), key, env, which, add, remove, store.IfVersion(seen), store.Actor(id.user))
	}
	back := "/flags/" + url.PathEscape(key) + "/allowlist?" + url.Values{"env": {env}, "list": {listName}}.Encode()
	if err == nil {
		http.Redirect(w, r, back+"&done=saved", http.StatusSeeOther)
		return
	}
	d := allowlistData{Key: key, Env: env, List: listName, Add: form.Get("add"), Remove: form.Get("remove")}
	msg := "Not saved: " + describe(err, map[string]string{})
	status := http.StatusUnprocessableEntity
	switch {
	case errors.Is(err, store.ErrVersionMismatch):
		status = http.StatusConflict
		msg = "Not saved: the flag changed since this page was loaded"
		if entries, aerr := c.store.Audit(r.Context(), key, 1); aerr == nil && len(entries) == 1 {
			msg += " (by " + entries[0].Actor + " at " + entries[0].Time + ")"
		}
		msg += ". Nothing was written; your lists are below, check the members and save again."
	case errors.Is(err, store.ErrNotFound):
		status = http.StatusNotFound
	}
	if pg, serr := c.store.ScanAllowlist(r.Context(), key, env, which, 0, "", allowlistPageSize); serr == nil {
		d.Page = pg
		if pg.Cursor != 0 {
			d.Next = strconv.FormatUint(pg.Cursor, 10)
		}
	}
	if f, gerr := c.store.Get(r.Context(), key); gerr == nil {
		d.Version = f.Version
	}
	c.render(w, r, status, "allowlist", page{Title: key + " — " + listName, Nav: "list", ID: id, Data: d, Error: msg})
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
