package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// The lint checks.
const (
	checkExpired   = "expired"        // the kill date has passed
	checkKillDate  = "bad-kill-date"  // expiresAt does not parse
	checkStuck     = "stuck"          // at 0% or 100% (or off) for longer than --stale-after
	checkVagueName = "vague-name"     // the key says nothing about the feature
	checkCorrupt   = "does-not-parse" // the stored data does not parse
	// checkUnused (cli_usage.go): not evaluated for longer than --unused-after
)

// finding is one lint problem.
type finding struct {
	Flag    string `json:"flag"`
	Check   string `json:"check"`
	Message string `json:"message"`
}

// runLint is "redisflags lint": it exits 1 when it finds anything.
func runLint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("lint", "lint [--now RFC3339] [--stale-after DURATION] [--json]", stderr)
	var c conn
	c.register(fs)
	at := fs.String("now", "", "judge as of this `time` (RFC 3339 date or date-time; default: now), to see what will be due")
	staleAfter := fs.Duration("stale-after", 30*24*time.Hour, "a rollout at 0% or 100%, or a flag off, for longer than this `duration` is stuck")
	unusedAfter := fs.Duration("unused-after", 30*24*time.Hour, "a flag no counting provider evaluated for longer than this `duration` is stale (0: skip the check; see provider.WithUsageCounts)")
	asJSON := fs.Bool("json", false, "print the findings as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0, 0); err != nil {
		return err
	}
	when := now()
	if *at != "" {
		t, dateOnly, err := parseDate(*at)
		if err != nil {
			return fmt.Errorf("--now: %w", err)
		}
		if dateOnly {
			t = t.Add(12 * time.Hour) // midday: a date is a whole day
		}
		when = t
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	flags, loadErr := st.List(ctx)
	if loadErr != nil && !errors.Is(loadErr, store.ErrCorrupt) {
		return fmt.Errorf("list flags: %w", loadErr)
	}
	found := lintFlags(flags, when, *staleAfter)
	if *unusedAfter > 0 {
		us, err := st.Usage(ctx, when, 1)
		if err != nil {
			fmt.Fprintf(stderr, "redisflags lint: evaluation counts not read, stale-flag check skipped: %v\n", err)
		}
		found = append(found, lintUsage(flags, us, when, *unusedAfter)...)
	}
	var de *store.DecodeError
	for _, e := range unjoin(loadErr) {
		key := "?"
		if errors.As(e, &de) {
			key = de.Flag
		}
		found = append(found, finding{Flag: key, Check: checkCorrupt, Message: e.Error()})
	}
	if *asJSON {
		if found == nil {
			found = []finding{}
		}
		if err := writeIndentedJSON(stdout, found); err != nil {
			return err
		}
	} else if len(found) == 0 {
		fmt.Fprintf(stdout, "%d flag(s), nothing to report\n", len(flags))
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FLAG\tCHECK\tPROBLEM")
		for _, f := range found {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", f.Flag, f.Check, f.Message)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d finding(s) in %d flag(s)\n", len(found), len(flags))
	}
	if len(found) > 0 {
		return errFindings
	}
	return nil
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// lintFlags checks flags (sorted by key) as of now.
func lintFlags(flags []evaluator.Flag, now time.Time, staleAfter time.Duration) []finding {
	var out []finding
	add := func(f evaluator.Flag, check, format string, args ...any) {
		out = append(out, finding{Flag: f.Key, Check: check, Message: fmt.Sprintf(format, args...)})
	}
	for _, f := range flags {
		if f.ExpiresAt != "" {
			t, dateOnly, err := parseDate(f.ExpiresAt)
			switch {
			case err != nil:
				add(f, checkKillDate, "expiresAt %q: %v", f.ExpiresAt, err)
			default:
				deadline := t
				if dateOnly {
					deadline = t.Add(24 * time.Hour) // the whole day counts
				}
				if !now.Before(deadline) {
					add(f, checkExpired, "kill date %s passed %s ago: remove the flag from the code, then delete it", f.ExpiresAt, days(now.Sub(deadline)))
				}
			}
		}
		for _, s := range stuck(f, now, staleAfter) {
			add(f, checkStuck, "%s", s)
		}
		if why := vagueName(f.Key); why != "" {
			add(f, checkVagueName, "%q %s: name the feature it switches (checkout-banner, new-search-ranking)", f.Key, why)
		}
	}
	return out
}

// stuck describes the parts of f that have served everyone or no one for
// longer than staleAfter (by their updatedAt; unknown ages are not judged).
func stuck(f evaluator.Flag, now time.Time, staleAfter time.Duration) []string {
	age := func(updatedAt string) (time.Duration, bool) {
		t, err := time.Parse(time.RFC3339Nano, updatedAt)
		if err != nil {
			return 0, false
		}
		d := now.Sub(t)
		return d, d >= staleAfter
	}
	if !f.DefaultEnabled {
		if d, old := age(f.UpdatedAt); old {
			return []string{fmt.Sprintf("off everywhere (defaultEnabled false) since %s (%s): delete it, or roll it out", f.UpdatedAt, days(d))}
		}
		return nil
	}
	var out []string
	for _, name := range f.EnvironmentNames() {
		e := f.Environments[name]
		d, old := age(orElse(e.UpdatedAt, f.UpdatedAt))
		if !old {
			continue
		}
		since := orElse(e.UpdatedAt, f.UpdatedAt)
		switch {
		case !e.Enabled:
			out = append(out, fmt.Sprintf("%s: disabled since %s (%s)", name, since, days(d)))
		case f.IsVariantFlag():
			// Rules, splits and targets decide, not rolloutPercent (which
			// a variant flag does not use): no percentage is stuck.
		case e.RolloutPercent == 100:
			out = append(out, fmt.Sprintf("%s: at 100%% since %s (%s): the rollout is done; remove the flag from the code", name, since, days(d)))
		case e.RolloutPercent == 0 && len(e.AllowlistUsers) == 0 && len(e.AllowlistRegions) == 0:
			out = append(out, fmt.Sprintf("%s: at 0%% with empty allowlists since %s (%s): it serves no one", name, since, days(d)))
		}
	}
	return out
}

func orElse(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// vagueWords say nothing about a feature on their own.
var vagueWords = map[string]bool{
	"test": true, "testing": true, "tmp": true, "temp": true, "flag": true, "flags": true,
	"feature": true, "features": true, "toggle": true, "switch": true, "new": true, "old": true,
	"foo": true, "bar": true, "baz": true, "qux": true, "asdf": true, "todo": true, "misc": true,
	"my": true, "the": true, "a": true, "example": true, "sample": true, "demo": true, "dummy": true,
	"x": true, "xx": true, "xxx": true, "abc": true, "thing": true, "stuff": true, "wip": true,
	"enable": true, "enabled": true, "disable": true, "disabled": true, "on": true, "off": true,
}

// vagueName says why a key says nothing, or "" when it says something: when
// every word of it (split at '-', '_', '.') is a number, one or two letters,
// or a word like test, tmp, flag, feature, new, foo.
func vagueName(key string) string {
	words := strings.FieldsFunc(strings.ToLower(key), func(r rune) bool { return r == '-' || r == '_' || r == '.' })
	for _, w := range words {
		if _, err := strconv.Atoi(w); err == nil || len(w) <= 2 || vagueWords[w] {
			continue
		}
		if t := strings.TrimRight(w, "0123456789"); t != w && (len(t) <= 2 || vagueWords[t]) {
			continue // flag2, test01, ff3
		}
		return ""
	}
	return "says nothing about what it switches"
}

// parseDate reads an RFC 3339 date ("2026-04-01", UTC midnight, dateOnly)
// or date-time.
func parseDate(s string) (t time.Time, dateOnly bool, err error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, false, nil
	}
	return time.Time{}, false, errors.New("not an RFC 3339 date (2026-04-01) or date-time (2026-04-01T12:00:00Z)")
}

// days renders a duration in days (or hours when under two days).
func days(d time.Duration) string {
	if d < 48*time.Hour {
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}
