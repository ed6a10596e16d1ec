package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/release"
	"github.com/redisflags/redisflags/store"
)

const scheduleSynopsis = `schedule add FLAG --at RFC3339 (--on | --off | --percent N | --value JSON | --enable-env | --disable-env | --delete | --definition FILE) [--environment E]
       schedule list [FLAG] [--json] | cancel ID`

// runSchedule is "redisflags schedule": scheduled changes, applied by the
// scheduler of a running `serve` (any replica, exactly once).
func runSchedule(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("schedule", scheduleSynopsis, stderr)
	var c conn
	c.register(fs)
	who := fs.String("actor", defaultActor(), "`name` recorded as who scheduled (or cancelled) it")
	at := fs.String("at", "", "when the change applies (`RFC3339`)")
	env := fs.String("environment", "production", "`environment` an environment edit changes")
	on := fs.Bool("on", false, "turn the flag on (defaultEnabled)")
	off := fs.Bool("off", false, "turn the flag off (defaultEnabled)")
	enableEnv := fs.Bool("enable-env", false, "turn the environment on")
	disableEnv := fs.Bool("disable-env", false, "turn the environment off")
	percent := fs.Int("percent", -1, "set the environment's rolloutPercent to `N`")
	value := fs.String("value", "", "set the environment's payload to this `JSON`")
	del := fs.Bool("delete", false, "delete the flag")
	defFile := fs.String("definition", "", "write the definition in `FILE` (tutorial JSON) as the whole flag")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errUsage
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	switch pos[0] {
	case "list":
		if err := wantArgs(fs, pos, 1, 2); err != nil {
			return err
		}
		return printList(ctx, stdout, *asJSON, pos, st.ListScheduled, "ID\tAT\tFLAG\tCHANGE\tSCHEDULED BY", func(s store.ScheduledChange) []any {
			return []any{s.ID, s.At, s.Flag, describeChange(s), s.ScheduledBy}
		})
	case "cancel":
		if err := wantArgs(fs, pos, 2, 2); err != nil {
			return err
		}
		if err := st.CancelScheduled(ctx, pos[1], *who); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "cancelled %s\n", pos[1])
		return nil
	case "add":
		if err := wantArgs(fs, pos, 2, 2); err != nil {
			return err
		}
	default:
		fmt.Fprintf(stderr, "redisflags schedule: unknown action %q\n", pos[0])
		fs.Usage()
		return errUsage
	}
	ch := store.ScheduledChange{Flag: pos[1], At: *at, ScheduledBy: *who}
	if t, err := time.Parse(time.RFC3339Nano, *at); err == nil {
		ch.At = t.UTC().Format(time.RFC3339Nano)
	}
	var p store.Patch
	edits := 0
	set := func(v bool) { p.DefaultEnabled = &v; edits++ }
	if *on {
		set(true)
	}
	if *off {
		set(false)
	}
	if *enableEnv || *disableEnv {
		v := *enableEnv
		p.Enabled, p.Environment = &v, *env
		edits++
	}
	if *percent >= 0 {
		p.RolloutPercent, p.Environment = percent, *env
		edits++
	}
	if *value != "" {
		if !json.Valid([]byte(*value)) {
			return fmt.Errorf("--value: not valid JSON")
		}
		p.Value, p.Environment = json.RawMessage(*value), *env
		edits++
	}
	switch {
	case *del:
		ch.Op = store.OpDelete
	case *defFile != "":
		b, err := os.ReadFile(*defFile)
		if err != nil {
			return err
		}
		f, err := evaluator.ParseFlag(b, pos[1])
		if err != nil {
			return err
		}
		ch.Op, ch.Definition = store.OpUpsert, &f
	case edits > 0:
		ch.Op, ch.Patch = store.OpPatch, &p
	default:
		fmt.Fprintln(stderr, "redisflags schedule add: say what changes (--on, --off, --percent, --value, --enable-env, --disable-env, --delete or --definition)")
		return errUsage
	}
	if (*del || *defFile != "") && edits > 0 {
		return fmt.Errorf("schedule add: --delete and --definition take no other edit")
	}
	out, err := st.Schedule(ctx, ch)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeIndentedJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "scheduled %s: %s %s at %s\n", out.ID, out.Flag, describeChange(out), out.At)
	return nil
}

func describeChange(s store.ScheduledChange) string {
	switch s.Op {
	case store.OpDelete:
		return "delete"
	case store.OpUpsert:
		return "write definition"
	}
	p := s.Patch
	if p == nil {
		return s.Op
	}
	var parts []string
	if p.DefaultEnabled != nil {
		parts = append(parts, "defaultEnabled="+strconv.FormatBool(*p.DefaultEnabled))
	}
	if p.Enabled != nil {
		parts = append(parts, p.Environment+".enabled="+strconv.FormatBool(*p.Enabled))
	}
	if p.RolloutPercent != nil {
		parts = append(parts, fmt.Sprintf("%s.rolloutPercent=%d", p.Environment, *p.RolloutPercent))
	}
	if p.Value != nil {
		parts = append(parts, p.Environment+".value="+shorten(string(p.Value), 40))
	}
	if p.Rollout != nil {
		parts = append(parts, p.Environment+".rollout")
	}
	return strings.Join(parts, " ")
}

const rolloutSynopsis = `rollout set FLAG ENV (--from N --to N --start T --end T | --from N --steps "5@T1,25@T2,…") [--variant V]
       rollout pause | resume FLAG ENV  |  rollout rollback FLAG ENV [--percent N]
       rollout guard FLAG ENV --metric EVENT [--threshold 0.01] [--window 1m] [--control V] [--candidate V]`

// runRollout is "redisflags rollout": progressive rollouts.
func runRollout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rollout", rolloutSynopsis, stderr)
	var c conn
	c.register(fs)
	who := fs.String("actor", defaultActor(), "`name` recorded in the audit trail")
	from := fs.Int("from", 0, "percent before the ramp or the first step")
	to := fs.Int("to", 0, "the ramp's final percent")
	start := fs.String("start", "", "the ramp's start (`RFC3339`)")
	end := fs.String("end", "", "the ramp's end (`RFC3339`)")
	steps := fs.String("steps", "", "steps as `PERCENT@RFC3339,…`")
	variant := fs.String("variant", "", "a variant flag's treatment variant")
	percent := fs.Int("percent", 0, "rollback: the percent served from now on")
	var guard guardOptions
	guard.register(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 3, 3); err != nil {
		return err
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	flagKey, env := pos[1], pos[2]
	var f evaluator.Flag
	switch pos[0] {
	case "set":
		r := evaluator.Rollout{From: *from, To: *to, Start: *start, End: *end, Variant: *variant}
		if *steps != "" {
			for part := range strings.SplitSeq(*steps, ",") {
				pct, at, ok := strings.Cut(strings.TrimSpace(part), "@")
				n, err := strconv.Atoi(pct)
				if !ok || err != nil {
					return fmt.Errorf("--steps: %q is not PERCENT@RFC3339", part)
				}
				r.Steps = append(r.Steps, evaluator.RolloutStep{At: at, Percent: n})
			}
		}
		f, err = release.SetRollout(ctx, st, flagKey, env, *who, r, now())
	case "pause":
		f, err = release.Pause(ctx, st, flagKey, env, *who, now())
	case "resume":
		f, err = release.Resume(ctx, st, flagKey, env, *who, now())
	case "rollback":
		f, err = release.Rollback(ctx, st, flagKey, env, *who, *percent)
	case "guard":
		return runGuard(ctx, st, flagKey, env, *who, guard, stdout)
	default:
		fmt.Fprintf(stderr, "redisflags rollout: unknown action %q\n", pos[0])
		fs.Usage()
		return errUsage
	}
	if err != nil {
		return err
	}
	e := f.Environments[env]
	fmt.Fprintf(stdout, "%s %s: %s in %s (version %d); rolloutPercent now %d\n", pos[0], flagKey, describeRollout(e.Rollout), env, f.Version, e.RolloutPercent)
	return nil
}

func describeRollout(r *evaluator.Rollout) string {
	if r == nil {
		return "no rollout"
	}
	var s string
	if r.IsRamp() {
		s = fmt.Sprintf("ramp %d%%→%d%% from %s to %s", r.From, r.To, r.Start, r.End)
	} else {
		s = fmt.Sprintf("%d steps from %d%%", len(r.Steps), r.From)
	}
	if r.PausedAt != "" {
		s += " (paused at " + r.PausedAt + ")"
	}
	return s
}
