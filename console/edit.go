package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// The edits a flag page posts to /flags/{key}/edit, by the form's "op".
const (
	opToggle    = "toggle"    // env, enabled: the kill switch of one environment
	opRollout   = "rollout"   // env, percent
	opEnv       = "env"       // env, enabled, percent, value, users, regions
	opFlag      = "flag"      // description, defaultEnabled
	opAddEnv    = "addenv"    // env: a new environment, off at 0 %
	opRemoveEnv = "removeenv" // env
	opJSON      = "json"      // definition: the whole definition as JSON
)

// maxListLines bounds an allowlist typed into a form.
const maxListLines = 10000

// fieldError is a problem with one posted field, before the store sees it.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// apply makes the posted edit to f (a clone of the stored definition).
func apply(f *evaluator.Flag, form url.Values) error {
	env := strings.TrimSpace(form.Get("env"))
	envField := "environments." + env
	needEnv := func() (evaluator.Environment, error) {
		e, ok := f.Environments[env]
		if !ok {
			return e, &fieldError{"env", fmt.Sprintf("flag %q has no environment %q", f.Key, env)}
		}
		return e, nil
	}
	switch op := form.Get("op"); op {
	case opToggle:
		e, err := needEnv()
		if err != nil {
			return err
		}
		e.Enabled = form.Get("enabled") == "true"
		f.Environments[env] = e
	case opRollout:
		e, err := needEnv()
		if err != nil {
			return err
		}
		if e.RolloutPercent, err = percent(form.Get("percent"), envField+".rolloutPercent"); err != nil {
			return err
		}
		f.Environments[env] = e
	case opEnv:
		e, err := needEnv()
		if err != nil {
			return err
		}
		e.Enabled = form.Get("enabled") == "true"
		if e.RolloutPercent, err = percent(form.Get("percent"), envField+".rolloutPercent"); err != nil {
			return err
		}
		value := strings.TrimSpace(form.Get("value"))
		e.Value = nil
		if value != "" {
			if !json.Valid([]byte(value)) {
				var x any
				err := json.Unmarshal([]byte(value), &x)
				return &fieldError{envField + ".value", "is not valid JSON: " + err.Error()}
			}
			e.Value = json.RawMessage(value)
		}
		// An allowlist left in Redis (too large to load) is not in the form
		// and stays as stored (store.KeepLargeAllowlists).
		if e.LargeUsers == 0 {
			if e.AllowlistUsers, err = list(form.Get("users"), envField+".allowlistUsers"); err != nil {
				return err
			}
		}
		if e.LargeRegions == 0 {
			if e.AllowlistRegions, err = list(form.Get("regions"), envField+".allowlistRegions"); err != nil {
				return err
			}
		}
		f.Environments[env] = e
	case opFlag:
		f.Description = strings.TrimSpace(form.Get("description"))
		f.DefaultEnabled = form.Get("defaultEnabled") == "true"
	case opAddEnv:
		if _, ok := f.Environments[env]; ok {
			return &fieldError{"env", fmt.Sprintf("flag %q already has environment %q", f.Key, env)}
		}
		if f.Environments == nil {
			f.Environments = map[string]evaluator.Environment{}
		}
		f.Environments[env] = evaluator.Environment{}
	case opRemoveEnv:
		if _, err := needEnv(); err != nil {
			return err
		}
		delete(f.Environments, env)
	case opJSON:
		next, err := evaluator.ParseFlag([]byte(form.Get("definition")), f.Key)
		if err != nil {
			return err
		}
		// The editor shows an allowlist left in Redis as []: kept as stored.
		for name, e := range next.Environments {
			old, ok := f.Environments[name]
			if !ok {
				continue
			}
			if old.LargeUsers > 0 && len(e.AllowlistUsers) == 0 {
				e.LargeUsers = old.LargeUsers
			}
			if old.LargeRegions > 0 && len(e.AllowlistRegions) == 0 {
				e.LargeRegions = old.LargeRegions
			}
			next.Environments[name] = e
		}
		*f = next
	default:
		return &fieldError{"op", fmt.Sprintf("unknown edit %q", op)}
	}
	return nil
}

func percent(s, field string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")))
	if err != nil || n < 0 || n > 100 {
		return 0, &fieldError{field, fmt.Sprintf("must be a whole number from 0 to 100, got %q", s)}
	}
	return n, nil
}

// list reads an allowlist typed one member a line (or comma-separated).
func list(s, field string) ([]string, error) {
	var out []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if m := strings.TrimSpace(line); m != "" {
			out = append(out, m)
		}
	}
	if len(out) > maxListLines {
		return nil, &fieldError{field, fmt.Sprintf("%d members: the console edits at most %d; use the API for more", len(out), maxListLines)}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// formVersion is the version the page was showing when the form was made.
func formVersion(form url.Values) (int64, bool) {
	v, err := strconv.ParseInt(form.Get("version"), 10, 64)
	return v, err == nil && v >= 0
}

// edit is POST /flags/{key}/edit: the posted edit applied to the stored
// definition and written with the version the page showed (store.IfVersion)
// and the signed-in person as actor. A version that moved meanwhile is a
// conflict page; a refused edit shows the flag page again with the field's
// error and the posted values; either way nothing is written.
func (c *Console) edit(w http.ResponseWriter, r *http.Request, id *identity) {
	cur, ok := c.loadFlag(w, r, id)
	if !ok {
		return
	}
	seen, ok := formVersion(r.PostForm)
	if !ok {
		c.fail(w, r, id, http.StatusBadRequest, "The form has no version: reload the page.")
		return
	}
	if seen != cur.Version {
		c.conflict(w, r, id, cur, seen)
		return
	}
	next := cur.Clone()
	if err := apply(&next, r.PostForm); err != nil {
		c.refused(w, r, id, cur, err)
		return
	}
	if err := c.guard(r.Context(), cur.Key, &next); err != nil {
		c.fail(w, r, id, http.StatusForbidden, "Not saved: "+err.Error())
		return
	}
	_, err := c.store.Upsert(r.Context(), next, store.IfVersion(seen), store.Actor(id.user), store.KeepLargeAllowlists())
	switch {
	case errors.Is(err, store.ErrVersionMismatch):
		if now, gerr := c.store.Get(r.Context(), cur.Key); gerr == nil {
			cur = now
		}
		c.conflict(w, r, id, cur, seen)
		return
	case err != nil:
		c.refused(w, r, id, cur, err)
		return
	}
	http.Redirect(w, r, "/flags/"+url.PathEscape(cur.Key)+"?done=saved", http.StatusSeeOther)
}

// refused shows the flag page again, unchanged in Redis, with the error by
// its field and the posted values in the form.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, id *identity, cur evaluator.Flag, err error) {
	p := page{Problems: map[string]string{}, Form: map[string]string{}}
	for k := range r.PostForm {
		if k != "csrf" {
			p.Form[k] = r.PostForm.Get(k)
		}
	}
	var fe *fieldError
	var ve *evaluator.ValidationError
	switch {
	case errors.As(err, &fe):
		p.Problems[fe.field] = fe.msg
		p.Error = "Not saved: " + fe.Error()
	case errors.As(err, &ve):
		var msgs []string
		for _, pr := range ve.Problems {
			p.Problems[pr.Field] = pr.Message
			msgs = append(msgs, pr.Field+": "+pr.Message)
		}
		p.Error = "Not saved: " + strings.Join(msgs, "; ")
	case errors.Is(err, store.ErrLargeAllowlist):
		p.Error = "Not saved: this flag has an allowlist too large to load; change it with the API or the CLI."
	default:
		c.fail(w, r, id, http.StatusBadGateway, "Not saved: "+err.Error())
		return
	}
	c.renderFlag(w, r, id, http.StatusUnprocessableEntity, cur, p, r.PostForm.Get("env"))
}

// conflictData is what the conflict page shows: who changed the flag since
// the page was loaded, what they changed, and the edit that was not made,
// ready to be made again on top of the current version.
type conflictData struct {
	Key     string
	Seen    int64
	Current int64
	Others  []historyEntry
	Mine    []change
	Form    [][2]string
	Err     string
}

func (c *Console) conflict(w http.ResponseWriter, r *http.Request, id *identity, cur evaluator.Flag, seen int64) {
	d := conflictData{Key: cur.Key, Seen: seen, Current: cur.Version}
	if entries, err := c.store.Audit(r.Context(), cur.Key, 20); err == nil {
		for _, e := range entries {
			f, ok := restorable(e)
			if ok && f.Version <= seen && e.Op == "upsert" {
				break
			}
			d.Others = append(d.Others, historyEntry{AuditEntry: e, Version: f.Version, Changes: diffJSON(e.Before, e.After)})
		}
	}
	next := cur.Clone()
	if err := apply(&next, r.PostForm); err != nil {
		d.Err = err.Error()
	} else {
		d.Mine = diffJSON(jsonOf(cur), jsonOf(next))
	}
	for _, k := range sortedKeys(r.PostForm) {
		if k != "csrf" && k != "version" {
			d.Form = append(d.Form, [2]string{k, r.PostForm.Get(k)})
		}
	}
	c.render(w, r, http.StatusConflict, "conflict", page{Title: cur.Key + " — changed meanwhile", Nav: "list", ID: id, Data: d})
}

func jsonOf(f evaluator.Flag) []byte {
	b, _ := json.Marshal(f)
	return b
}

// ---- create, copy, delete, revert ----

func (c *Console) newPage(w http.ResponseWriter, r *http.Request, id *identity) {
	form := map[string]string{"environments": c.cfg.environment}
	if from := r.URL.Query().Get("copy"); from != "" {
		form["copy"] = from
	}
	c.render(w, r, http.StatusOK, "new", page{Title: "New flag", Nav: "new", ID: id, Form: form})
}

// create is POST /new: a new flag, off (0 %) in each named environment, or
// a whole definition as JSON. An existing key is refused.
func (c *Console) create(w http.ResponseWriter, r *http.Request, id *identity) {
	form := r.PostForm
	key := strings.TrimSpace(form.Get("key"))
	var f evaluator.Flag
	var err error
	if def := strings.TrimSpace(form.Get("definition")); def != "" {
		f, err = evaluator.ParseFlag([]byte(def), key)
	} else {
		f = evaluator.Flag{Key: key, Description: strings.TrimSpace(form.Get("description")), DefaultEnabled: true, Environments: map[string]evaluator.Environment{}}
		for _, e := range strings.FieldsFunc(form.Get("environments"), func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
			f.Environments[strings.TrimSpace(e)] = evaluator.Environment{}
		}
	}
	if err == nil {
		err = c.createFlag(r, id, f)
	}
	if err != nil {
		p := page{Title: "New flag", Nav: "new", ID: id, Form: map[string]string{}, Problems: map[string]string{}}
		for k := range form {
			if k != "csrf" {
				p.Form[k] = form.Get(k)
			}
		}
		p.Error = "Not created: " + describe(err, p.Problems)
		c.render(w, r, http.StatusUnprocessableEntity, "new", p)
		return
	}
	http.Redirect(w, r, "/flags/"+url.PathEscape(f.Key)+"?done=created", http.StatusSeeOther)
}

// errExists refuses a create or copy onto a stored key.
var errExists = errors.New("a flag with this key exists")

// createFlag writes f only when no flag has its key: the check, and
// IfVersion(0) for a racing create.
func (c *Console) createFlag(r *http.Request, id *identity, f evaluator.Flag) error {
	if err := evaluator.Validate(f); err != nil {
		return err
	}
	_, err := c.store.Get(r.Context(), f.Key)
	switch {
	case err == nil, errors.Is(err, store.ErrCorrupt):
		return &fieldError{"key", fmt.Sprintf("%q: %v", f.Key, errExists)}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	if err := c.guard(r.Context(), f.Key, &f); err != nil {
		return err
	}
	_, err = c.store.Upsert(r.Context(), f, store.IfVersion(0), store.Actor(id.user))
	if errors.Is(err, store.ErrVersionMismatch) {
		return &fieldError{"key", fmt.Sprintf("%q: %v", f.Key, errExists)}
	}
	c.index.invalidate()
	return err
}

// describe is an error for a person, with field problems also put in probs.
func describe(err error, probs map[string]string) string {
	var fe *fieldError
	var ve *evaluator.ValidationError
	switch {
	case errors.As(err, &fe):
		probs[fe.field] = fe.msg
		return fe.Error()
	case errors.As(err, &ve):
		var msgs []string
		for _, p := range ve.Problems {
			probs[p.Field] = p.Message
			msgs = append(msgs, p.Field+": "+p.Message)
		}
		return strings.Join(msgs, "; ")
	}
	return err.Error()
}

// copyFlag is POST /flags/{key}/copy: the definition under a new key.
func (c *Console) copyFlag(w http.ResponseWriter, r *http.Request, id *identity) {
	cur, ok := c.loadFlag(w, r, id)
	if !ok {
		return
	}
	next := cur.Clone()
	next.Key = strings.TrimSpace(r.PostForm.Get("to"))
	next.Version, next.UpdatedAt = 0, ""
	if err := c.createFlag(r, id, next); err != nil {
		p := page{Problems: map[string]string{}, Form: map[string]string{"to": next.Key}}
		p.Error = "Not copied: " + describe(err, p.Problems)
		if p.Problems["flagKey"] != "" {
			p.Problems["to"] = p.Problems["flagKey"]
		}
		if p.Problems["key"] != "" {
			p.Problems["to"] = p.Problems["key"]
		}
		c.renderFlag(w, r, id, http.StatusUnprocessableEntity, cur, p, "")
		return
	}
	http.Redirect(w, r, "/flags/"+url.PathEscape(next.Key)+"?done=copied", http.StatusSeeOther)
}

// deleteFlag is POST /flags/{key}/delete; the form must repeat the key
// (the confirmation) and carry the version the page showed.
func (c *Console) deleteFlag(w http.ResponseWriter, r *http.Request, id *identity) {
	cur, ok := c.loadFlag(w, r, id)
	if !ok {
		return
	}
	if strings.TrimSpace(r.PostForm.Get("confirm")) != cur.Key {
		p := page{Problems: map[string]string{"confirm": "type the flag's key to confirm"}, Error: "Not deleted: type the flag's key to confirm."}
		c.renderFlag(w, r, id, http.StatusUnprocessableEntity, cur, p, "")
		return
	}
	seen, ok := formVersion(r.PostForm)
	if !ok || seen != cur.Version {
		c.conflict(w, r, id, cur, seen)
		return
	}
	if err := c.guard(r.Context(), cur.Key, nil); err != nil {
		c.fail(w, r, id, http.StatusForbidden, "Not deleted: "+err.Error())
		return
	}
	err := c.store.Delete(r.Context(), cur.Key, store.IfVersion(seen), store.Actor(id.user))
	if errors.Is(err, store.ErrVersionMismatch) {
		if now, gerr := c.store.Get(r.Context(), cur.Key); gerr == nil {
			cur = now
		}
		c.conflict(w, r, id, cur, seen)
		return
	}
	if err != nil {
		c.fail(w, r, id, http.StatusBadGateway, "Not deleted: "+err.Error())
		return
	}
	c.index.invalidate()
	http.Redirect(w, r, "/?done=deleted&key="+url.QueryEscape(cur.Key), http.StatusSeeOther)
}

// revert is POST /flags/{key}/revert: the definition an audit entry
// recorded ("entry", its stream ID) written again — itself an audited
// write, checked against the version the history page showed (0 when the
// flag was deleted).
func (c *Console) revert(w http.ResponseWriter, r *http.Request, id *identity) {
	key := r.PathValue("key")
	entryID := r.PostForm.Get("entry")
	seen, ok := formVersion(r.PostForm)
	if !evaluator.ValidName(key) || !ok {
		c.fail(w, r, id, http.StatusBadRequest, "The revert form is incomplete: reload the history.")
		return
	}
	entries, err := c.store.Audit(r.Context(), key, 0)
	if err != nil {
		c.fail(w, r, id, http.StatusBadGateway, "Redis did not answer: "+err.Error())
		return
	}
	i := slices.IndexFunc(entries, func(e store.AuditEntry) bool { return e.ID == entryID })
	if i < 0 {
		c.fail(w, r, id, http.StatusNotFound, "That history entry is gone (the audit stream keeps the newest entries only).")
		return
	}
	def, ok := restorable(entries[i])
	if !ok {
		c.fail(w, r, id, http.StatusUnprocessableEntity, "That version cannot be restored as it was recorded (a large allowlist is recorded by its size only).")
		return
	}
	def.Version, def.UpdatedAt = 0, ""
	if err := c.guard(r.Context(), key, &def); err != nil {
		c.fail(w, r, id, http.StatusForbidden, "Not reverted: "+err.Error())
		return
	}
	_, err = c.store.Upsert(r.Context(), def, store.IfVersion(seen), store.Actor(id.user))
	if errors.Is(err, store.ErrVersionMismatch) {
		cur, gerr := c.store.Get(r.Context(), key)
		if gerr != nil {
			cur = evaluator.Flag{Key: key}
		}
		r.PostForm.Set("op", opJSON)
		r.PostForm.Set("definition", string(jsonOf(def)))
		c.conflict(w, r, id, cur, seen)
		return
	}
	if err != nil {
		c.fail(w, r, id, http.StatusUnprocessableEntity, "Not reverted: "+err.Error())
		return
	}
	http.Redirect(w, r, "/flags/"+url.PathEscape(key)+"/history?done=reverted", http.StatusSeeOther)
}
