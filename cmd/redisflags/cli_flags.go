package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/server"
	"github.com/redisflags/redisflags/store"
)

const flagsSynopsis = `flags list [--json]
       redisflags flags get KEY
       redisflags flags set KEY --file FILE|-            (replace the definition with the tutorial JSON)
       redisflags flags set KEY [--description S] [--default-enabled=BOOL] [--expires-at DATE]
                                [--env E [--enabled=BOOL] [--percent N] [--value JSON] [--users a,b] [--regions a,b]
                                 [--add-user U] [--remove-user U] [--add-region R] [--remove-region R] [--delete-env]]
       redisflags flags delete KEY [--if-version N]`

// runFlags is "redisflags flags list|get|set|delete".
func runFlags(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "Usage: redisflags %s\n", flagsSynopsis)
		return errUsage
	}
	switch args[0] {
	case "list", "ls":
		return flagsList(ctx, args[1:], stdout, stderr)
	case "get", "show":
		return flagsGet(ctx, args[1:], stdout, stderr)
	case "set":
		return flagsSet(ctx, args[1:], stdout, stderr)
	case "delete", "rm":
		return flagsDelete(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprintf(stdout, "Usage: redisflags %s\n\n\"redisflags flags ACTION -h\" describes an action's options.\n", flagsSynopsis)
		return nil
	}
	fmt.Fprintf(stderr, "redisflags flags: unknown action %q\nUsage: redisflags %s\n", args[0], flagsSynopsis)
	return errUsage
}

func flagsList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("flags list", "flags list [--json]", stderr)
	var c conn
	c.register(fs)
	asJSON := fs.Bool("json", false, "print {\"flags\": […]} as the admin API does")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0, 0); err != nil {
		return err
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
	if *asJSON {
		return writeIndentedJSON(stdout, newFlagList(flags, loadErr))
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVERSION\tON\tENVIRONMENTS\tEXPIRES\tUPDATED")
	for _, f := range flags {
		expires := f.ExpiresAt
		if expires == "" {
			expires = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%t\t%s\t%s\t%s\n", f.Key, f.Version, f.DefaultEnabled, envSummary(f), expires, orDash(f.UpdatedAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range splitJoined(loadErr) {
		fmt.Fprintln(stderr, "not listed:", e)
	}
	if loadErr != nil {
		return fmt.Errorf("%d stored flag(s) do not parse", len(splitJoined(loadErr)))
	}
	return nil
}

// envSummary is "production 25% +1u +1r, staging off"; for a variant flag
// (LaunchDarkly's and flagd's included), whose rolloutPercent means
// nothing, "3 variants (default "on"), production on".
func envSummary(f evaluator.Flag) string {
	var parts []string
	if f.IsVariantFlag() {
		v := fmt.Sprintf("%d variants", len(f.Variants))
		if f.DefaultVariant != "" {
			v += fmt.Sprintf(" (default %q)", f.DefaultVariant)
		}
		parts = append(parts, v)
	}
	for _, name := range f.EnvironmentNames() {
		env := f.Environments[name]
		s := name + " off"
		if env.Enabled && f.IsVariantFlag() {
			s = name + " on"
		} else if env.Enabled {
			s = fmt.Sprintf("%s %d%%", name, env.RolloutPercent)
			if n := len(env.AllowlistUsers); n > 0 {
				s += fmt.Sprintf(" +%du", n)
			}
			if n := len(env.AllowlistRegions); n > 0 {
				s += fmt.Sprintf(" +%dr", n)
			}
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func flagsGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("flags get", "flags get KEY", stderr)
	var c conn
	c.register(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 1, 1); err != nil {
		return err
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	f, err := st.Get(ctx, pos[0])
	if err != nil {
		return err
	}
	return writeIndentedJSON(stdout, server.WireFlag(f))
}

func flagsDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("flags delete", "flags delete KEY [--if-version N]", stderr)
	var c conn
	c.register(fs)
	ifVersion := fs.Int64("if-version", -1, "delete only if the stored version is `N` (-1: whatever it is)")
	who := fs.String("actor", defaultActor(), "`name` recorded in the audit trail")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 1, 1); err != nil {
		return err
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	opts := []store.WriteOption{store.Actor(*who)}
	if *ifVersion >= 0 {
		opts = append(opts, store.IfVersion(*ifVersion))
	}
	if err := st.Delete(ctx, pos[0], opts...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted %s\n", pos[0])
	return nil
}

// listFlag is a comma-separated list flag; set() records that it was given.
type listFlag struct {
	vals []string
	set  bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }
func (l *listFlag) Set(s string) error {
	l.set = true
	l.vals = nil
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			l.vals = append(l.vals, v)
		}
	}
	return nil
}

// repeatFlag collects a flag given several times.
type repeatFlag []string

func (r *repeatFlag) String() string     { return strings.Join(*r, ",") }
func (r *repeatFlag) Set(s string) error { *r = append(*r, s); return nil }

// flagsSet changes a flag: the whole definition from a file, or single
// fields of the stored one. A field edit is read-modify-write guarded by
// the version read, so a change someone makes in between is never lost
// (the command fails and says so).
func flagsSet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("flags set", flagsSynopsis, stderr)
	var c conn
	c.register(fs)
	file := fs.String("file", "", "replace the whole definition with the tutorial JSON in `FILE` (\"-\": stdin)")
	fs.StringVar(file, "f", "", "short for --file")
	ifVersion := fs.Int64("if-version", -1, "write only if the stored version is `N` (-1: the version read, for field edits)")
	who := fs.String("actor", defaultActor(), "`name` recorded in the audit trail")
	description := fs.String("description", "", "flag description")
	defaultEnabled := fs.Bool("default-enabled", true, "the flag's master switch")
	expiresAt := fs.String("expires-at", "", "kill `date` (RFC 3339 date or date-time; \"none\" removes it)")
	env := fs.String("env", "", "`environment` the options below change")
	enabled := fs.Bool("enabled", false, "switch the environment on or off")
	percent := fs.Int("percent", 0, "rollout `percent` 0–100")
	value := fs.String("value", "", "payload as `JSON` (\"null\" removes it)")
	var users, regions listFlag
	fs.Var(&users, "users", "replace the user allowlist (comma-separated)")
	fs.Var(&regions, "regions", "replace the region allowlist (comma-separated)")
	var addUsers, removeUsers, addRegions, removeRegions repeatFlag
	fs.Var(&addUsers, "add-user", "add a user to the allowlist (repeatable)")
	fs.Var(&removeUsers, "remove-user", "remove a user from the allowlist (repeatable)")
	fs.Var(&addRegions, "add-region", "add a region to the allowlist (repeatable)")
	fs.Var(&removeRegions, "remove-region", "remove a region from the allowlist (repeatable)")
	deleteEnv := fs.Bool("delete-env", false, "remove the environment")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 1, 1); err != nil {
		return err
	}
	key := pos[0]
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	envFields := []string{"enabled", "percent", "value", "users", "regions", "add-user", "remove-user", "add-region", "remove-region", "delete-env"}
	flagFields := []string{"description", "default-enabled", "expires-at"}
	anyGiven := func(names []string) bool { return slices.ContainsFunc(names, func(n string) bool { return given[n] }) }
	if *file != "" && (anyGiven(envFields) || anyGiven(flagFields) || given["env"]) {
		return errors.New("flags set: --file replaces the whole definition; do not combine it with field options")
	}
	if anyGiven(envFields) && *env == "" {
		return errors.New("flags set: --env names the environment that --enabled, --percent, --value and the allowlist options change")
	}
	if *file == "" && !anyGiven(envFields) && !anyGiven(flagFields) && !given["env"] {
		return errors.New("flags set: nothing to change: give --file or field options (see -h)")
	}

	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	opts := []store.WriteOption{store.Actor(*who)}

	var f evaluator.Flag
	if *file != "" {
		data, err := readInput(*file)
		if err != nil {
			return err
		}
		if f, err = evaluator.ParseFlag(data, key); err != nil {
			return err
		}
		if *ifVersion >= 0 {
			opts = append(opts, store.IfVersion(*ifVersion))
		}
	} else {
		f, err = st.Get(ctx, key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			f = evaluator.Flag{Key: key, DefaultEnabled: true}
		case err != nil:
			return err
		}
		version := f.Version
		if *ifVersion >= 0 {
			version = *ifVersion
		}
		opts = append(opts, store.IfVersion(version))
		if given["description"] {
			f.Description = *description
		}
		if given["default-enabled"] {
			f.DefaultEnabled = *defaultEnabled
		}
		if given["expires-at"] {
			f.ExpiresAt = *expiresAt
			if strings.EqualFold(f.ExpiresAt, "none") {
				f.ExpiresAt = ""
			}
		}
		if *env != "" {
			if f.Environments == nil {
				f.Environments = map[string]evaluator.Environment{}
			}
			e, existed := f.Environments[*env]
			if !existed && !given["enabled"] && (given["percent"] || given["value"] || users.set || regions.set || len(addUsers) > 0 || len(addRegions) > 0) {
				// A new environment is created enabled when it is given
				// something to serve, as asked; --enabled=false says otherwise.
				e.Enabled = true
				fmt.Fprintf(stderr, "flags set: environment %q of %q is new: created enabled (--enabled=false to create it off)\n", *env, key)
			}
			if given["enabled"] {
				e.Enabled = *enabled
			}
			if given["percent"] {
				e.RolloutPercent = *percent
			}
			if given["value"] {
				e.Value = nil
				if v := strings.TrimSpace(*value); v != "null" {
					if !json.Valid([]byte(v)) {
						return fmt.Errorf("flag %q: --value %s is not valid JSON (quote strings: '\"text\"')", key, shorten(v, 40))
					}
					e.Value = json.RawMessage(v)
				}
			}
			if users.set {
				e.AllowlistUsers = users.vals
			}
			if regions.set {
				e.AllowlistRegions = regions.vals
			}
			e.AllowlistUsers = edit(e.AllowlistUsers, addUsers, removeUsers)
			e.AllowlistRegions = edit(e.AllowlistRegions, addRegions, removeRegions)
			f.Environments[*env] = e
			if *deleteEnv {
				delete(f.Environments, *env)
			}
		}
	}
	if f.ExpiresAt != "" {
		if t, err := evaluator.ParseExpiry(f.ExpiresAt); err == nil && t.Before(now()) {
			fmt.Fprintf(stderr, "flags set: warning: flag %q has a kill date in the past (%s): lint reports it as due for removal from now on\n", key, f.ExpiresAt)
		}
	}
	stored, err := st.Upsert(ctx, f, opts...)
	if errors.Is(err, store.ErrVersionMismatch) && *file == "" && *ifVersion < 0 {
		return fmt.Errorf("%w: someone changed the flag while this edit was made; run it again", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "stored %s version %d\n", stored.Key, stored.Version)
	return nil
}

// edit adds and removes members, keeping order and dropping duplicates.
func edit(list []string, add, remove []string) []string {
	out := slices.Clone(list)
	for _, a := range add {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return slices.DeleteFunc(out, func(s string) bool { return slices.Contains(remove, s) })
}

// readInput reads a file, or stdin for "-".
func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}
