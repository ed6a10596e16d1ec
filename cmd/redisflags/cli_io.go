package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// importWorkers is how many flags an import too large for one transaction
// writes at once: each write is its own WATCHed transaction, so a few in
// flight hide the round trips.
const importWorkers = 8

// exportBatch is how many flags export loads per step of its progress.
const exportBatch = 256

// runImport is "redisflags import FILE": every definition in the file is
// validated first (all problems are reported, and nothing is written while
// there is one); then every flag whose definition differs from the stored one
// is written in one atomic step (store.UpsertAll: all or nothing, one audit
// entry per flag); above store.MaxUpsertAll changed flags, one transaction
// per flag, said so on stderr. Flags that are not in the file are left
// alone. --format picks the file format (see
// formats); what a format left out, and why, is printed before the summary.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", "import FILE|- [--format NAME] [--skip KEY,…] [--skip-unsupported] [--environment NAME] [--dry-run] [--actor NAME]\n\nFormats:"+formatDocs(), stderr)
	var c conn
	c.register(fs)
	format := fs.String("format", "tutorial", "file `format` (see Formats)")
	var opts importOptions
	fs.Var((*keyList)(&opts.Skip), "skip", "leave out the flags with these `keys` (comma-separated, repeatable), unchecked")
	fs.BoolVar(&opts.SkipUnsupported, "skip-unsupported", false, "launchdarkly: leave out the flags that use what redisflags cannot reproduce, instead of failing")
	fs.StringVar(&opts.Environment, "environment", "", "launchdarkly: import into this one environment `name` (default: every environment)")
	dryRun := fs.Bool("dry-run", false, "validate and compare, write nothing")
	who := fs.String("actor", defaultActor(), "`name` recorded in the audit trail")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 1, 1); err != nil {
		return err
	}
	ff, err := lookupFormat(*format)
	if err != nil {
		return err
	}
	if ff.Decode == nil && ff.Detect == nil {
		return fmt.Errorf("format %q can be exported, not imported", ff.Name)
	}
	if ff.Detect == nil {
		if err := checkOptions(ff, opts); err != nil {
			return err
		}
	}
	data, err := readInput(pos[0])
	if err != nil {
		return err
	}
	if ff.Detect != nil {
		name, err := ff.Detect(data)
		if err != nil {
			return fmt.Errorf("%s: nothing imported: cannot tell its format: %w", pos[0], err)
		}
		if ff, err = lookupFormat(name); err != nil || ff.Decode == nil {
			return fmt.Errorf("%s: nothing imported: format %s detected, which cannot be imported", pos[0], name)
		}
		fmt.Fprintf(stdout, "format: %s (detected)\n", ff.Name)
		if err := checkOptions(ff, opts); err != nil {
			return fmt.Errorf("%s is in format %s: %w", pos[0], ff.Name, err)
		}
	}
	dec, err := ff.Decode(data, opts)
	if err != nil {
		return fmt.Errorf("%s: nothing imported:\n%w", pos[0], err)
	}
	for _, line := range dec.Report {
		fmt.Fprintln(stdout, line)
	}
	flags := dec.Flags
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()

	keys := make([]string, len(flags))
	for i, f := range flags {
		keys[i] = f.Key
	}
	recs, err := st.Load(ctx, keys...)
	if err != nil {
		return err
	}
	stored := make(map[string]store.Record, len(recs))
	for _, r := range recs {
		stored[r.Key] = r
	}
	var todo []evaluator.Flag
	var plan []string // for --dry-run: what each flag would get
	created := 0
	for _, f := range flags {
		r := stored[f.Key]
		switch {
		case errors.Is(r.Err, store.ErrNotFound):
			created++
			todo = append(todo, f)
			plan = append(plan, "create  "+f.Key)
		case r.Err != nil || !sameDefinition(r.Flag, f):
			todo = append(todo, f)
			plan = append(plan, "update  "+f.Key)
		default:
			plan = append(plan, "same    "+f.Key)
		}
	}
	unchanged := len(flags) - len(todo)
	if *dryRun {
		for _, line := range plan {
			fmt.Fprintln(stdout, line)
		}
		fmt.Fprintf(stdout, "dry run: %d flag(s) in %s: %d to create, %d to update, %d unchanged; nothing written\n",
			len(flags), pos[0], created, len(todo)-created, unchanged)
		return nil
	}

	if len(todo) == 0 {
		fmt.Fprintf(stdout, "imported %s: 0 written, %d unchanged, 0 failed\n", pos[0], unchanged)
		return nil
	}
	if len(todo) <= store.MaxUpsertAll {
		// All or nothing: one atomic script writes every changed flag.
		fmt.Fprintf(stderr, "writing %d flag(s) (%d to create, %d to update) in one transaction\n", len(todo), created, len(todo)-created)
		if _, err := st.UpsertAll(ctx, todo, store.Actor(*who)); err != nil {
			return fmt.Errorf("%s: nothing imported: %w", pos[0], err)
		}
		fmt.Fprintf(stdout, "imported %s: %d written, %d unchanged, 0 failed\n", pos[0], len(todo), unchanged)
		return nil
	}
	return importPerFlag(ctx, st, todo, unchanged, pos[0], *who, stdout, stderr)
}

// importPerFlag writes an import too large for one transaction (more than
// store.MaxUpsertAll changed flags) one flag per transaction: it is then
// not all or nothing, and says so, naming every flag that failed.
func importPerFlag(ctx context.Context, st *store.Store, todo []evaluator.Flag, unchanged int, name, who string, stdout, stderr io.Writer) error {
	fmt.Fprintf(stderr, "%d flags to write is more than one transaction takes (%d): each flag is written on its own, and a failure leaves the others written\n", len(todo), store.MaxUpsertAll)
	bar := newProgress(stderr, "importing", len(todo))
	jobs := make(chan evaluator.Flag)
	var mu sync.Mutex
	var failed []error
	var wg sync.WaitGroup
	for range min(importWorkers, len(todo)) {
		wg.Go(func() {
			for f := range jobs {
				if _, err := st.Upsert(ctx, f, store.Actor(who)); err != nil {
					mu.Lock()
					failed = append(failed, fmt.Errorf("flag %q: %w", f.Key, err))
					mu.Unlock()
				}
				bar.add(1)
			}
		})
	}
	for _, f := range todo {
		if ctx.Err() != nil {
			break
		}
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	bar.finish()
	written := len(todo) - len(failed)
	fmt.Fprintf(stdout, "imported %s: %d written, %d unchanged, %d failed\n", name, written, unchanged, len(failed))
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("import interrupted after %d of %d writes: %w", written, len(todo), err)
	}
	return errors.Join(failed...)
}

// keyList is a flag.Value of flag keys: comma-separated, and repeatable
// ("--skip a,b --skip c").
type keyList []string

// String returns the keys, comma-separated.
func (l *keyList) String() string { return strings.Join(*l, ",") }

// Set adds the comma-separated keys of s, ignoring empty ones.
func (l *keyList) Set(s string) error {
	for k := range strings.SplitSeq(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			*l = append(*l, k)
		}
	}
	return nil
}

// sameDefinition reports whether two definitions say the same thing,
// ignoring what the store sets (updatedAt, version) and what it normalizes
// (allowlist order, payload spacing).
func sameDefinition(a, b evaluator.Flag) bool {
	norm := func(f evaluator.Flag) []byte {
		f = f.Clone()
		f.UpdatedAt, f.Version = "", 0
		for name, e := range f.Environments {
			e.UpdatedAt = ""
			slices.Sort(e.AllowlistUsers)
			slices.Sort(e.AllowlistRegions)
			e.AllowlistUsers = slices.Compact(e.AllowlistUsers)
			e.AllowlistRegions = slices.Compact(e.AllowlistRegions)
			if len(e.AllowlistUsers) == 0 {
				e.AllowlistUsers = nil
			}
			if len(e.AllowlistRegions) == 0 {
				e.AllowlistRegions = nil
			}
			if !e.HasValue() {
				e.Value = nil
			} else {
				var buf bytes.Buffer
				if json.Compact(&buf, e.Value) == nil {
					e.Value = buf.Bytes()
				}
			}
			f.Environments[name] = e
		}
		if len(f.Environments) == 0 {
			f.Environments = nil
		}
		b, _ := json.Marshal(f)
		return b
	}
	return bytes.Equal(norm(a), norm(b))
}

// runExport is "redisflags export": every flag, sorted by key, in a file
// format. Flags whose stored data does not parse are named on stderr and
// make the export fail after writing the others.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", "export [--format NAME] [-o FILE]\n\nFormats:"+formatDocs(), stderr)
	var c conn
	c.register(fs)
	format := fs.String("format", "tutorial", "file `format`")
	out := fs.String("o", "-", "output `file` (\"-\": stdout); written whole or not at all")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0, 0); err != nil {
		return err
	}
	ff, err := lookupFormat(*format)
	if err != nil {
		return err
	}
	if ff.Encode == nil {
		return fmt.Errorf("format %q can be imported, not exported", ff.Name)
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()

	keys, err := rdb.SMembers(ctx, st.Prefix()+":index").Result()
	if err != nil {
		return fmt.Errorf("read the flag index: %w", err)
	}
	slices.Sort(keys)
	bar := newProgress(stderr, "exporting", len(keys))
	var flags []evaluator.Flag
	var corrupt []error
	for start := 0; start < len(keys); start += exportBatch {
		recs, err := st.Load(ctx, keys[start:min(start+exportBatch, len(keys))]...)
		if err != nil {
			return err
		}
		for _, r := range recs {
			switch {
			case r.Err == nil:
				flags = append(flags, r.Flag)
			case !errors.Is(r.Err, store.ErrNotFound):
				corrupt = append(corrupt, r.Err)
			}
		}
		bar.add(len(recs))
	}
	bar.finish()

	var buf bytes.Buffer
	if err := ff.Encode(&buf, flags); err != nil {
		return err
	}
	if *out == "-" {
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			return err
		}
	} else if err := writeFileAtomic(*out, buf.Bytes()); err != nil {
		return err
	} else {
		fmt.Fprintf(stderr, "exported %d flag(s) to %s\n", len(flags), *out)
	}
	if len(corrupt) > 0 {
		return fmt.Errorf("%d flag(s) left out because their stored data does not parse:\n%w", len(corrupt), errors.Join(corrupt...))
	}
	return nil
}

// writeFileAtomic writes through a temporary file and a rename, so that a
// failed export never leaves half a file.
func writeFileAtomic(name string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".redisflags-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
