package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// usageRow is one flag in "redisflags usage".
type usageRow struct {
	Flag string `json:"flag"`
	// LastEvaluated is RFC 3339, or empty when never counted.
	LastEvaluated string             `json:"lastEvaluated,omitempty"`
	Evaluations   int64              `json:"evaluations"`
	Counts        []store.UsageCount `json:"counts,omitempty"`
}

// runUsage is "redisflags usage": when each flag was last evaluated and how
// often, from the counts providers with WithUsageCounts write.
func runUsage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("usage", "usage [FLAG] [--days N] [--json]", stderr)
	var c conn
	c.register(fs)
	days := fs.Int("days", 7, "sum the counts of the last `N` days (today included; at most 40 are kept)")
	asJSON := fs.Bool("json", false, "print JSON, with every environment, variant and reason counted")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0, 1); err != nil {
		return err
	}
	if *days < 1 || *days > 400 {
		return fmt.Errorf("--days %d: want 1 to 400", *days)
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	flags, err := st.List(ctx)
	if err != nil {
		return fmt.Errorf("list flags: %w", err)
	}
	us, err := st.Usage(ctx, now(), *days)
	if err != nil {
		return err
	}
	rows := usageRows(flags, us)
	if len(pos) == 1 {
		rows = filterRows(rows, pos[0])
		if len(rows) == 0 {
			return fmt.Errorf("flag %q: %w", pos[0], store.ErrNotFound)
		}
	}
	if *asJSON {
		if rows == nil {
			rows = []usageRow{}
		}
		return writeIndentedJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "FLAG\tLAST EVALUATED\tEVALUATIONS (%dd)\tTOP\n", *days)
	for _, r := range rows {
		last := "never"
		if r.LastEvaluated != "" {
			last = r.LastEvaluated
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", r.Flag, last, r.Evaluations, topCounts(r.Counts, 3))
	}
	return tw.Flush()
}

func filterRows(rows []usageRow, flag string) []usageRow {
	for _, r := range rows {
		if r.Flag == flag {
			return []usageRow{r}
		}
	}
	return nil
}

// usageRows joins the stored flags with their counts; counts of flags no
// longer stored are left out.
func usageRows(flags []evaluator.Flag, us []store.FlagUsage) []usageRow {
	by := make(map[string]store.FlagUsage, len(us))
	for _, u := range us {
		by[u.Flag] = u
	}
	rows := make([]usageRow, 0, len(flags))
	for _, f := range flags {
		u := by[f.Key]
		r := usageRow{Flag: f.Key, Evaluations: u.Total, Counts: u.Counts}
		if !u.LastEvaluated.IsZero() {
			r.LastEvaluated = u.LastEvaluated.UTC().Format(time.RFC3339)
		}
		rows = append(rows, r)
	}
	return rows
}

// topCounts describes the n largest combinations: "production on SPLIT 120, …".
func topCounts(cs []store.UsageCount, n int) string {
	sorted := append([]store.UsageCount(nil), cs...)
	for i := range sorted { // a few entries: insertion sort by count, descending
		for j := i; j > 0 && sorted[j].Count > sorted[j-1].Count; j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	var parts []string
	for i, c := range sorted {
		if i == n {
			parts = append(parts, "…")
			break
		}
		v := c.Variant
		if v == "" {
			v = "-"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s %d", c.Environment, v, c.Reason, c.Count))
	}
	return strings.Join(parts, ", ")
}

// checkUnused is lint's stale-flag rule.
const checkUnused = "not-evaluated"

// lintUsage reports flags no provider evaluated for longer than unusedAfter
// (by the counts of providers with WithUsageCounts). It judges nothing when
// no flag was ever counted (counting is off everywhere), nor flags changed
// within unusedAfter.
func lintUsage(flags []evaluator.Flag, us []store.FlagUsage, now time.Time, unusedAfter time.Duration) []finding {
	if len(us) == 0 || unusedAfter <= 0 {
		return nil
	}
	last := make(map[string]time.Time, len(us))
	for _, u := range us {
		last[u.Flag] = u.LastEvaluated
	}
	var out []finding
	for _, f := range flags {
		t, counted := last[f.Key]
		if counted && !t.IsZero() {
			if idle := now.Sub(t); idle > unusedAfter {
				out = append(out, finding{Flag: f.Key, Check: checkUnused, Message: fmt.Sprintf(
					"not evaluated for %s (last %s): if no code asks for it any more, delete it", days(idle), t.UTC().Format(time.RFC3339))})
			}
			continue
		}
		if u, err := time.Parse(time.RFC3339Nano, f.UpdatedAt); err == nil && now.Sub(u) > unusedAfter {
			out = append(out, finding{Flag: f.Key, Check: checkUnused, Message: fmt.Sprintf(
				"never evaluated by a counting provider, and unchanged for %s: if no code asks for it, delete it", days(now.Sub(u)))})
		}
	}
	return out
}
