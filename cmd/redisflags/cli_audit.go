package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/redisflags/redisflags/store"
)

// runAudit is "redisflags audit [FLAG]": the newest entries of the audit
// stream, each with who, when, what and a summary of the change.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit", "audit [FLAG] [-n N] [--json]", stderr)
	var c conn
	c.register(fs)
	n := fs.Int("n", 20, "show the newest `N` entries (0: all)")
	asJSON := fs.Bool("json", false, "print the entries, before and after included, as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0, 1); err != nil {
		return err
	}
	key := ""
	if len(pos) == 1 {
		key = pos[0]
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	entries, err := st.Audit(ctx, key, *n)
	if err != nil {
		return err
	}
	if *asJSON {
		if entries == nil {
			entries = []store.AuditEntry{}
		}
		return writeIndentedJSON(stdout, entries)
	}
	if len(entries) == 0 {
		if key != "" {
			fmt.Fprintf(stdout, "no audit entries for %s in %s\n", key, st.AuditStream())
		} else {
			fmt.Fprintf(stdout, "no audit entries in %s\n", st.AuditStream())
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tACTOR\tOP\tFLAG\tCHANGE")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time, e.Actor, e.Op, e.Flag, summarize(e))
	}
	return tw.Flush()
}

// maxChanges is how many changed fields a summary names.
const maxChanges = 4

// summarize says what an entry changed: "created", "deleted", or the fields
// that differ ("environments.production.rolloutPercent 25→50").
func summarize(e store.AuditEntry) string {
	before, after := flatten(e.Before), flatten(e.After)
	switch {
	case before == nil && after == nil:
		return "-"
	case before == nil:
		return fmt.Sprintf("created (version %s)", orDash(after["version"]))
	case after == nil:
		return fmt.Sprintf("deleted (was version %s)", orDash(before["version"]))
	}
	var changes []string
	for _, k := range slices.Sorted(maps.Keys(merge(before, after))) {
		if strings.HasSuffix(k, "updatedAt") || k == "version" {
			continue
		}
		b, inB := before[k]
		a, inA := after[k]
		switch {
		case !inB:
			changes = append(changes, fmt.Sprintf("+%s %s", k, a))
		case !inA:
			changes = append(changes, fmt.Sprintf("-%s", k))
		case a != b:
			changes = append(changes, fmt.Sprintf("%s %s→%s", k, b, a))
		}
	}
	head := fmt.Sprintf("v%s→v%s", orDash(before["version"]), orDash(after["version"]))
	switch {
	case len(changes) == 0:
		return head + ": no change"
	case len(changes) > maxChanges:
		return fmt.Sprintf("%s: %s (+%d more)", head, strings.Join(changes[:maxChanges], "; "), len(changes)-maxChanges)
	}
	return head + ": " + strings.Join(changes, "; ")
}

func merge(a, b map[string]string) map[string]string {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}

// flatten turns a JSON definition into path → compact JSON value, with
// arrays as one value ("allowlistUsers" → ["a","b"]); nil for JSON null.
func flatten(raw json.RawMessage) map[string]string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil || v == nil {
		return nil
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && prefix != "value" && !strings.HasSuffix(prefix, ".value") {
			for k, e := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, e)
			}
			return
		}
		b, _ := json.Marshal(v)
		out[prefix] = string(b)
	}
	walk("", v)
	return out
}
