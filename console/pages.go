package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// page is what every template gets.
type page struct {
	Title   string
	ID      *identity
	User    string
	Role    string
	CSRF    string
	CanEdit bool
	Error   string
	Notice  string
	// Problems are the field errors of a refused change, by field path.
	Problems map[string]string
	// Form holds the values a refused form was posted with, to show them
	// again: nothing typed is lost.
	Form map[string]string
	Next string
	Nav  string
	Data any
}

var templateNames = []string{"login", "error", "list", "flag", "history", "evaluate", "new", "conflict", "allowlist"}

var funcs = template.FuncMap{
	"pretty": func(raw json.RawMessage) string {
		var b bytes.Buffer
		if len(raw) == 0 || json.Indent(&b, raw, "", "  ") != nil {
			return string(raw)
		}
		return b.String()
	},
	"tojson": func(v any) string { b, _ := json.Marshal(v); return string(b) },
	"join":   strings.Join,
	"field":  func(m map[string]string, k string) string { return m[k] },
}

func parseTemplates() map[string]*template.Template {
	out := make(map[string]*template.Template, len(templateNames))
	for _, name := range templateNames {
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return out
}

// render writes a page; the body is built first, so a template failure is
// a clean 500 rather than half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.ID == nil {
		p.ID = c.identify(r)
	}
	if p.ID != nil {
		p.User, p.Role, p.CSRF, p.CanEdit = p.ID.user, p.ID.role.String(), p.ID.csrf, p.ID.role >= Editor
	}
	var b bytes.Buffer
	if err := c.tmpl[name].ExecuteTemplate(&b, "layout", p); err != nil {
		c.log.Error("console: render", "page", name, "err", err)
		http.Error(w, "the page failed to render", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, id *identity, status int, msg string) {
	c.render(w, r, status, "error", page{Title: http.StatusText(status), Error: msg, ID: id})
}

// ---- the list ----

type listRow struct {
	Key         string
	Description string
	Variant     bool
	Version     int64
	Cells       []envCell
	Owner       string
	Tags        string
	ExpiresAt   string
	Warnings    []string
	Err         string
}

type envCell struct {
	Env     string
	Present bool
	Enabled bool
	Percent int
}

type listData struct {
	Query    string
	Filter   string
	Envs     []string
	Rows     []listRow
	Total    int // flags matching the search
	All      int // flags in the index
	Page     int
	Pages    int
	PrevPage int
	NextPage int
}

// listFilters are the list's filters besides the search. Any but "all"
// must look at definitions, so it loads every matching flag (in batches)
// rather than one page.
var listFilters = []string{"all", "warnings", "off"}

func (c *Console) listPage(w http.ResponseWriter, r *http.Request, id *identity) {
	q := r.URL.Query()
	d := listData{Query: strings.TrimSpace(q.Get("q")), Filter: q.Get("filter")}
	if !slices.Contains(listFilters, d.Filter) {
		d.Filter = "all"
	}
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = max(d.Page, 1)
	keys, err := c.keys(r.Context())
	if err != nil {
		c.fail(w, r, id, http.StatusBadGateway, "Redis did not answer: "+err.Error())
		return
	}
	d.All = len(keys)
	if d.Query != "" {
		needle := strings.ToLower(d.Query)
		var kept []string // keys is shared: never filter it in place
		for _, k := range keys {
			if strings.Contains(strings.ToLower(k), needle) {
				kept = append(kept, k)
			}
		}
		keys = kept
	}
	size := c.cfg.pageSize
	var rows []listRow
	now := c.cfg.now()
	if d.Filter == "all" {
		d.Total = len(keys)
		from := min((d.Page-1)*size, len(keys))
		recs, err := c.store.Load(r.Context(), keys[from:min(from+size, len(keys))]...)
		if err != nil {
			c.fail(w, r, id, http.StatusBadGateway, "Redis did not answer: "+err.Error())
			return
		}
		for _, rec := range recs {
			if !errors.Is(rec.Err, store.ErrNotFound) {
				rows = append(rows, c.row(rec, now))
			}
		}
	} else {
		recs, err := c.store.Load(r.Context(), keys...)
		if err != nil {
			c.fail(w, r, id, http.StatusBadGateway, "Redis did not answer: "+err.Error())
			return
		}
		var all []listRow
		for _, rec := range recs {
			if errors.Is(rec.Err, store.ErrNotFound) {
				continue
			}
			row := c.row(rec, now)
			if d.Filter == "warnings" && len(row.Warnings) == 0 && row.Err == "" {
				continue
			}
			if d.Filter == "off" && !rowOff(row) {
				continue
			}
			all = append(all, row)
		}
		d.Total = len(all)
		from := min((d.Page-1)*size, len(all))
		rows = all[from:min(from+size, len(all))]
	}
	d.Rows = rows
	d.Pages = max((d.Total+size-1)/size, 1)
	if d.Page > 1 {
		d.PrevPage = d.Page - 1
	}
	if d.Page < d.Pages {
		d.NextPage = d.Page + 1
	}
	d.Envs = c.columns(rows)
	for i := range d.Rows {
		d.Rows[i].Cells = cells(d.Rows[i].Cells, d.Envs)
	}
	c.render(w, r, http.StatusOK, "list", page{Title: "Flags", Nav: "list", ID: id, Data: d, Notice: noticeOf(r)})
}

func rowOff(row listRow) bool {
	for _, cell := range row.Cells {
		if cell.Present && cell.Enabled {
			return false
		}
	}
	return true
}

// columns are the environments the page's rows have, the console's own
// environment first.
func (c *Console) columns(rows []listRow) []string {
	seen := map[string]bool{}
	var envs []string
	for _, r := range rows {
		for _, cell := range r.Cells {
			if !seen[cell.Env] {
				seen[cell.Env] = true
				envs = append(envs, cell.Env)
			}
		}
	}
	slices.SortFunc(envs, func(a, b string) int {
		if a == c.cfg.environment {
			return -1
		}
		if b == c.cfg.environment {
			return 1
		}
		return strings.Compare(a, b)
	})
	if len(envs) > 6 {
		envs = envs[:6]
	}
	return envs
}

func cells(have []envCell, envs []string) []envCell {
	out := make([]envCell, len(envs))
	for i, e := range envs {
		out[i] = envCell{Env: e}
		for _, h := range have {
			if h.Env == e {
				out[i] = h
			}
		}
	}
	return out
}

// stuckAfter is how long a rollout at 0 % or 100 % may stay before the
// list warns that it is stuck (the CLI's lint default).
const stuckAfter = 30 * 24 * time.Hour

func (c *Console) row(rec store.Record, now time.Time) listRow {
	row := listRow{Key: rec.Key}
	if rec.Err != nil {
		row.Err = rec.Err.Error()
		return row
	}
	f := rec.Flag
	row.Description, row.Variant, row.Version = f.Description, f.IsVariantFlag(), f.Version
	row.ExpiresAt = f.ExpiresAt
	row.Owner = metaString(f.Metadata, "owner")
	row.Tags = metaString(f.Metadata, "tags")
	row.Warnings = warnings(f, now)
	for _, name := range f.EnvironmentNames() {
		e := f.Environments[name]
		row.Cells = append(row.Cells, envCell{Env: name, Present: true, Enabled: e.Enabled && f.DefaultEnabled, Percent: e.RolloutPercent})
	}
	return row
}

func metaString(m map[string]any, k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case []any:
		var parts []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	}
	return ""
}

// warnings are the list's lint warnings: the kill date has passed, a part
// of an imported flag was malformed (Flag.Malformed), or a rollout has sat
// at 0 % or 100 % for longer than stuckAfter.
func warnings(f evaluator.Flag, now time.Time) []string {
	var out []string
	if f.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, f.ExpiresAt)
		if err != nil {
			t, err = time.Parse(time.DateOnly, f.ExpiresAt)
			t = t.Add(24 * time.Hour)
		}
		switch {
		case err != nil:
			out = append(out, "kill date does not parse")
		case now.After(t):
			out = append(out, "kill date "+f.ExpiresAt+" has passed")
		}
	}
	for _, m := range f.Malformed {
		out = append(out, "malformed in its source data (evaluations that reach it fail): "+m)
	}
	if f.IsVariantFlag() {
		return out
	}
	for _, name := range f.EnvironmentNames() {
		e := f.Environments[name]
		if !e.Enabled || (e.RolloutPercent != 0 && e.RolloutPercent != 100) {
			continue
		}
		at, err := time.Parse(time.RFC3339, e.UpdatedAt)
		if err == nil && now.Sub(at) > stuckAfter {
			out = append(out, name+" stuck at "+strconv.Itoa(e.RolloutPercent)+" %")
		}
	}
	return out
}

func noticeOf(r *http.Request) string {
	switch r.URL.Query().Get("done") {
	case "saved":
		return "Saved."
	case "created":
		return "Created."
	case "copied":
		return "Copied."
	case "deleted":
		return "Deleted " + r.URL.Query().Get("key") + "."
	case "reverted":
		return "Reverted: the earlier definition is restored (and the revert is in the history)."
	}
	return ""
}

// ---- one flag ----

type envView struct {
	Name         string
	Env          evaluator.Environment
	Value        string
	Users        string
	Regions      string
	LargeUsers   int64
	LargeRegions int64
	Steps        []int
}

type flagData struct {
	Flag       evaluator.Flag
	Envs       []envView
	JSON       string
	Variants   []variantView
	Rules      string
	Split      string
	LastChange *store.AuditEntry
	Warnings   []string
	// FormEnv is the environment whose form a refused change came from.
	FormEnv string
	// HasLarge is true when an allowlist was left in Redis (too large to
	// load): the JSON shows it as [] and every edit keeps it.
	HasLarge bool
}

type variantView struct {
	Name    string
	Value   string
	Default bool
	Off     bool
}

// rolloutSteps are the rollout buttons: 1 → 5 → 25 → 50 → 100 %, and 0.
var rolloutSteps = []int{0, 1, 5, 25, 50, 100}

func (c *Console) loadFlag(w http.ResponseWriter, r *http.Request, id *identity) (evaluator.Flag, bool) {
	key := r.PathValue("key")
	f, err := c.store.Get(r.Context(), key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.fail(w, r, id, http.StatusNotFound, "There is no flag "+strconv.Quote(key)+".")
		return f, false
	case errors.Is(err, store.ErrCorrupt):
		c.fail(w, r, id, http.StatusUnprocessableEntity, "The stored data of "+strconv.Quote(key)+" does not parse: "+err.Error()+". Fix it with the CLI or the API.")
		return f, false
	case err != nil:
		c.fail(w, r, id, http.StatusBadGateway, "Redis did not answer: "+err.Error())
		return f, false
	}
	return f, true
}

func (c *Console) flagPage(w http.ResponseWriter, r *http.Request, id *identity) {
	f, ok := c.loadFlag(w, r, id)
	if !ok {
		return
	}
	c.renderFlag(w, r, id, http.StatusOK, f, page{Notice: noticeOf(r)}, "")
}

func (c *Console) renderFlag(w http.ResponseWriter, r *http.Request, id *identity, status int, f evaluator.Flag, p page, formEnv string) {
	d := flagData{Flag: f, FormEnv: formEnv, Warnings: warnings(f, c.cfg.now())}
	for _, name := range f.EnvironmentNames() {
		e := f.Environments[name]
		v := envView{Name: name, Env: e, Users: strings.Join(e.AllowlistUsers, "\n"), Regions: strings.Join(e.AllowlistRegions, "\n"),
			LargeUsers: e.LargeUsers, LargeRegions: e.LargeRegions, Steps: rolloutSteps}
		d.HasLarge = d.HasLarge || e.HasLargeAllowlist()
		if e.HasValue() {
			v.Value = funcs["pretty"].(func(json.RawMessage) string)(e.Value)
		}
		d.Envs = append(d.Envs, v)
	}
	for _, name := range sortedKeys(f.Variants) {
		d.Variants = append(d.Variants, variantView{Name: name, Value: string(f.Variants[name]), Default: name == f.DefaultVariant, Off: name == f.OffVariant})
	}
	if len(f.Rules) > 0 {
		b, _ := json.MarshalIndent(f.Rules, "", "  ")
		d.Rules = string(b)
	}
	if f.Split != nil {
		b, _ := json.MarshalIndent(f.Split, "", "  ")
		d.Split = string(b)
	}
	def := f.Clone()
	def.UpdatedAt, def.Version = "", 0
	for n, e := range def.Environments {
		e.UpdatedAt = ""
		def.Environments[n] = e
	}
	b, _ := json.MarshalIndent(def, "", "  ")
	d.JSON = string(b)
	if entries, err := c.store.Audit(r.Context(), f.Key, 1); err == nil && len(entries) == 1 {
		d.LastChange = &entries[0]
	}
	p.Title, p.Nav, p.ID, p.Data = f.Key, "list", id, d
	c.render(w, r, status, "flag", p)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ---- history ----

type historyEntry struct {
	store.AuditEntry
	Version int64
	Changes []change
	// Restorable is the definition this entry left (or, for a delete,
	// the one it removed), when it can be restored as it is.
	Restorable bool
	Current    bool
	// Created is true for the write that created the flag.
	Created bool
}

type historyData struct {
	Key     string
	Version int64 // the flag's version now; 0 when deleted
	Exists  bool
	Entries []historyEntry
}

// historyLen is how many entries the history page shows.
const historyLen = 100

func (c *Console) historyPage(w http.ResponseWriter, r *http.Request, id *identity) {
	key := r.PathValue("key")
	if !evaluator.ValidName(key) {
		c.fail(w, r, id, http.StatusNotFound, "There is no flag "+strconv.Quote(key)+".")
		return
	}
	entries, err := c.store.Audit(r.Context(), key, historyLen)
	if err != nil {
		c.fail(w, r, id, http.StatusBadGateway, "Redis did not answer: "+err.Error())
		return
	}
	d := historyData{Key: key}
	if f, err := c.store.Get(r.Context(), key); err == nil {
		d.Version, d.Exists = f.Version, true
	}
	for _, e := range entries {
		h := historyEntry{AuditEntry: e, Changes: diffJSON(e.Before, e.After), Created: string(e.Before) == "null"}
		if def, ok := restorable(e); ok {
			h.Restorable = true
			h.Version = def.Version
			h.Current = d.Exists && e.Op == "upsert" && def.Version == d.Version
		}
		d.Entries = append(d.Entries, h)
	}
	c.render(w, r, http.StatusOK, "history", page{Title: key + " — history", Nav: "list", ID: id, Data: d, Notice: noticeOf(r)})
}

// restorable decodes the definition an entry can restore: what an upsert
// wrote, what a delete removed. A definition recorded with a large
// allowlist as its count, or a corrupt one, cannot be restored.
func restorable(e store.AuditEntry) (evaluator.Flag, bool) {
	raw := e.After
	if e.Op == "delete" {
		raw = e.Before
	}
	if len(raw) == 0 || string(raw) == "null" {
		return evaluator.Flag{}, false
	}
	f, err := evaluator.ParseFlag(raw, e.Flag)
	return f, err == nil
}
