package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/server"
	"github.com/redisflags/redisflags/store"
)

const requestSynopsis = `request list [FLAG] [--json] | show ID | create FILE | create-delete FLAG | approve ID [--digest D] | reject ID --comment C | cancel ID`

// runRequest is "redisflags request": four-eyes change requests.
func runRequest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("request", requestSynopsis, stderr)
	var c conn
	c.register(fs)
	who := fs.String("actor", defaultActor(), "`name` of who proposes, approves or rejects (an author cannot approve)")
	comment := fs.String("comment", "", "the author's or the reviewer's `words`")
	digest := fs.String("digest", "", "approve only if the request is still the one with this `digest` (see show)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errUsage
	}
	want := map[string][2]int{"list": {1, 2}, "show": {2, 2}, "create": {2, 2}, "create-delete": {2, 2}, "approve": {2, 2}, "reject": {2, 2}, "cancel": {2, 2}}
	n, ok := want[pos[0]]
	if !ok {
		fmt.Fprintf(stderr, "redisflags request: unknown action %q\n", pos[0])
		fs.Usage()
		return errUsage
	}
	if err := wantArgs(fs, pos, n[0], n[1]); err != nil {
		return err
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	show := func(r store.Request) error {
		if *asJSON {
			return writeIndentedJSON(stdout, r)
		}
		fmt.Fprintf(stdout, "%s  %s %s by %s at %s: %s\n  digest %s, base version %d", r.ID, r.Op, r.Flag, r.Author, r.CreatedAt, r.State, r.Digest, r.BaseVersion)
		if r.Reviewer != "" {
			fmt.Fprintf(stdout, ", decided by %s at %s", r.Reviewer, r.DecidedAt)
		}
		fmt.Fprintln(stdout)
		after := []byte("null")
		if r.After != nil {
			after = auditJSONOf(*r.After)
		}
		fmt.Fprintf(stdout, "  change: %s\n", summarize(store.AuditEntry{Before: r.Before, After: after}))
		return nil
	}
	switch pos[0] {
	case "list":
		return printList(ctx, stdout, *asJSON, pos, st.ListRequests, "ID\tFLAG\tOP\tAUTHOR\tCREATED", func(r store.Request) []any {
			return []any{r.ID, r.Flag, r.Op, r.Author, r.CreatedAt}
		})
	case "show":
		r, err := st.GetRequest(ctx, pos[1])
		if err != nil {
			return err
		}
		return show(r)
	case "create":
		b, err := os.ReadFile(pos[1])
		if err != nil {
			return err
		}
		f, err := evaluator.ParseFlag(b, "")
		if err != nil {
			return err
		}
		r, err := st.CreateRequest(ctx, store.Request{Op: store.OpUpsert, After: &f, Author: *who, Comment: *comment})
		if err != nil {
			return err
		}
		return show(r)
	case "create-delete":
		r, err := st.CreateRequest(ctx, store.Request{Op: store.OpDelete, Flag: pos[1], Author: *who, Comment: *comment})
		if err != nil {
			return err
		}
		return show(r)
	case "approve":
		r, err := st.ApproveRequest(ctx, pos[1], *who, *digest)
		if err != nil {
			return err
		}
		return show(r)
	case "reject":
		if err := st.RejectRequest(ctx, pos[1], *who, *comment); err != nil {
			return err
		}
	case "cancel":
		if err := st.CancelRequest(ctx, pos[1], *who); err != nil {
			return err
		}
	}
	r, err := st.GetRequest(ctx, pos[1])
	if err != nil {
		return err
	}
	return show(r)
}

const policySynopsis = `policy list | set ENV [--require-approval] [--emergency-off]`

// runPolicy is "redisflags policy": which environments need four eyes.
func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy", policySynopsis, stderr)
	var c conn
	c.register(fs)
	require := fs.Bool("require-approval", false, "edits touching the environment become change requests")
	emergency := fs.Bool("emergency-off", false, "turning a flag off skips approval (audited as \"emergency off\")")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 || (pos[0] != "list" && pos[0] != "set") {
		fs.Usage()
		return errUsage
	}
	if pos[0] == "set" {
		if err := wantArgs(fs, pos, 2, 2); err != nil {
			return err
		}
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	if pos[0] == "set" {
		if err := st.SetPolicy(ctx, pos[1], store.Policy{RequireApproval: *require, EmergencyOff: *emergency}); err != nil {
			return err
		}
	}
	p, err := st.Policies(ctx)
	if err != nil {
		return err
	}
	return writeIndentedJSON(stdout, p)
}

// auditJSONOf is a definition as the audit trail shows it (the tutorial's
// shape), for summarize.
func auditJSONOf(f evaluator.Flag) []byte {
	b, _ := json.Marshal(server.WireFlag(f))
	return b
}

// printList is the "list [FLAG]" action of request and schedule: fetch the
// items (of one flag when pos names it), then print them as JSON or as a
// table under header, one row of cells per item.
func printList[T any](ctx context.Context, stdout io.Writer, asJSON bool, pos []string, fetch func(context.Context, string) ([]T, error), header string, row func(T) []any) error {
	flagKey := ""
	if len(pos) == 2 {
		flagKey = pos[1]
	}
	list, err := fetch(ctx, flagKey)
	if err != nil {
		return err
	}
	if asJSON {
		return writeIndentedJSON(stdout, list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, it := range list {
		cells := row(it)
		for i, c := range cells {
			sep := "\t"
			if i == len(cells)-1 {
				sep = "\n"
			}
			fmt.Fprintf(tw, "%v%s", c, sep)
		}
	}
	return tw.Flush()
}
