package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/redisflags/redisflags/evaluator"
)

// runBucket is "redisflags bucket FLAG ENV SUBJECT": the subject's bucket,
// worked out step by step, and the outcome with the step that decided it.
func runBucket(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bucket", "bucket FLAG ENVIRONMENT SUBJECT [--region R]", stderr)
	var c conn
	c.register(fs)
	region := fs.String("region", "", "the subject's `region`, for the region allowlist")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 3, 3); err != nil {
		return err
	}
	key, envName, subject := pos[0], pos[1], pos[2]
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	f, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	compiled, err := evaluator.Compile(f)
	if err != nil {
		return err
	}
	in := evaluator.Input{Environment: envName, Subject: subject, Region: *region, Now: now()}
	res := compiled.Evaluate(in)
	explainBucket(stdout, f, in, res)
	return nil
}

func explainBucket(w io.Writer, f evaluator.Flag, in evaluator.Input, res evaluator.Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	version := "version unknown"
	if f.Version > 0 {
		version = fmt.Sprintf("version %d", f.Version)
	}
	fmt.Fprintf(tw, "flag\t%s (%s, defaultEnabled %t)\n", f.Key, version, f.DefaultEnabled)
	env, hasEnv := f.Environments[in.Environment]
	if hasEnv {
		fmt.Fprintf(tw, "environment\t%s: %s\n", in.Environment, describeEnv(env))
	} else {
		fmt.Fprintf(tw, "environment\t%s: not defined (the flag has %s)\n", in.Environment, orNone(f.EnvironmentNames()))
	}
	region := in.Region
	if region == "" {
		region = "none given"
	}
	fmt.Fprintf(tw, "subject\t%s (region: %s)\n", in.Subject, region)

	input := f.Key + ":" + in.Environment + ":" + in.Subject
	sum := sha256.Sum256([]byte(input))
	first := binary.BigEndian.Uint32(sum[:4])
	bucket := int(first % 100)
	fmt.Fprintf(tw, "hash\tsha256(%q) = %s…\n", input, hex.EncodeToString(sum[:8]))
	fmt.Fprintf(tw, "bucket\t0x%s = %d; %d mod 100 = %d\n", hex.EncodeToString(sum[:4]), first, first, bucket)
	if hasEnv {
		p := env.RolloutPercent
		switch {
		case p == 0:
			fmt.Fprintf(tw, "rollout\t0%%: no bucket is in\n")
		case p == 100:
			fmt.Fprintf(tw, "rollout\t100%%: every bucket is in\n")
		default:
			fmt.Fprintf(tw, "rollout\tbuckets 0–%d are in (%d%% of subjects); bucket %d is %s\n", p-1, p, bucket, map[bool]string{true: "in", false: "out"}[bucket < p])
		}
	}
	state := "off"
	if res.On {
		state = "on"
	}
	fmt.Fprintf(tw, "outcome\t%s: %s — %s\n", state, res.Outcome, why(f, env, in, res, bucket))
	if res.On && env.HasValue() {
		fmt.Fprintf(tw, "value\t%s\n", env.Value)
	}
}

func why(f evaluator.Flag, env evaluator.Environment, in evaluator.Input, res evaluator.Result, bucket int) string {
	switch res.Outcome {
	case evaluator.FlagDisabled:
		return "defaultEnabled is false: the flag is off everywhere"
	case evaluator.EnvironmentMissing:
		return fmt.Sprintf("the flag has no environment %q", in.Environment)
	case evaluator.EnvironmentDisabled:
		return fmt.Sprintf("environment %q is disabled", in.Environment)
	case evaluator.AllowlistUser:
		return fmt.Sprintf("%q is in the user allowlist (the bucket plays no part)", in.Subject)
	case evaluator.AllowlistRegion:
		return fmt.Sprintf("region %q is in the region allowlist (the bucket plays no part)", in.Region)
	case evaluator.RolloutHit:
		return fmt.Sprintf("bucket %d < rolloutPercent %d", bucket, env.RolloutPercent)
	case evaluator.RolloutMiss:
		return fmt.Sprintf("bucket %d ≥ rolloutPercent %d", bucket, env.RolloutPercent)
	}
	if res.Err == evaluator.SubjectMissing {
		return "a partial rollout needs a subject"
	}
	return "no outcome"
}

func describeEnv(env evaluator.Environment) string {
	var parts []string
	if env.Enabled {
		parts = append(parts, "enabled")
	} else {
		parts = append(parts, "disabled")
	}
	parts = append(parts, fmt.Sprintf("rollout %d%%", env.RolloutPercent))
	if n := len(env.AllowlistUsers); n > 0 {
		parts = append(parts, fmt.Sprintf("%d allowlisted user(s)", n))
	}
	if n := len(env.AllowlistRegions); n > 0 {
		parts = append(parts, "allowlisted regions "+strings.Join(env.AllowlistRegions, ", "))
	}
	if env.HasValue() {
		parts = append(parts, "with a payload")
	}
	return strings.Join(parts, ", ")
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return quoteList(names)
}
