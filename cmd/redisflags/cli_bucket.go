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

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/provider"
)

// runBucket is "redisflags bucket FLAG ENV SUBJECT": the subject's bucket,
// worked out step by step, and the outcome with the step that decided it.
// The answer is the provider's (provider.Resolve, direct reads): the same
// reasons, prerequisites and bucketing (sha256, md5 canary, murmur3,
// LaunchDarkly) as every application sees.
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
	p := provider.New(rdb, provider.WithKeyPrefix(c.prefix), provider.WithDirectReads(), provider.WithClock(now))
	fc := of.FlattenedContext{of.TargetingKey: subject, "environment": envName}
	if *region != "" {
		fc["region"] = *region
	}
	explainBucket(stdout, f, p.Resolve(ctx, key, fc))
	return nil
}

func explainBucket(w io.Writer, f evaluator.Flag, res provider.Resolution) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	x := res.Explanation
	version := "version unknown"
	if f.Version > 0 {
		version = fmt.Sprintf("version %d", f.Version)
	}
	fmt.Fprintf(tw, "flag\t%s (%s, defaultEnabled %t)\n", f.Key, version, f.DefaultEnabled)
	env, hasEnv := f.Environments[x.Environment]
	switch {
	case f.IsVariantFlag():
		fmt.Fprintf(tw, "environment\t%s\n", x.Environment)
	case hasEnv:
		fmt.Fprintf(tw, "environment\t%s: %s\n", x.Environment, describeEnv(env))
	default:
		fmt.Fprintf(tw, "environment\t%s: not defined (the flag has %s)\n", x.Environment, orNone(f.EnvironmentNames()))
	}
	region := x.Region
	if region == "" {
		region = "none given"
	}
	fmt.Fprintf(tw, "subject\t%s (region: %s)\n", x.Subject, region)
	if res.ErrorCode != "" {
		fmt.Fprintf(tw, "outcome\terror %s: %s\n", res.ErrorCode, res.ErrorMessage)
		return
	}
	if f.IsVariantFlag() {
		if x.Bucket >= 0 {
			fmt.Fprintf(tw, "bucket\t%d (%s bucketing)\n", x.Bucket, x.Scheme)
		}
		served := "no variant (the caller's default)"
		if res.Variant != "" {
			served = fmt.Sprintf("variant %q", res.Variant)
		}
		fmt.Fprintf(tw, "outcome\t%s: %s (%s)\n", served, x.Outcome, res.Reason)
		if len(res.Value) > 0 {
			fmt.Fprintf(tw, "value\t%s\n", res.Value)
		}
		return
	}
	bucket := x.Bucket
	if x.Scheme == evaluator.BucketSHA256 || x.Scheme == "" {
		input := f.Key + ":" + x.Environment + ":" + x.Subject
		sum := sha256.Sum256([]byte(input))
		first := binary.BigEndian.Uint32(sum[:4])
		fmt.Fprintf(tw, "hash\tsha256(%q) = %s…\n", input, hex.EncodeToString(sum[:8]))
		fmt.Fprintf(tw, "bucket\t0x%s = %d; %d mod 100 = %d\n", hex.EncodeToString(sum[:4]), first, first, bucket)
	} else {
		fmt.Fprintf(tw, "bucket\t%d (%s bucketing)\n", bucket, x.Scheme)
	}
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
	if x.On {
		state = "on"
	}
	fmt.Fprintf(tw, "outcome\t%s: %s — %s\n", state, x.Outcome, why(env, x, bucket))
	if x.On && len(x.Payload) > 0 {
		fmt.Fprintf(tw, "value\t%s\n", x.Payload)
	}
}

func why(env evaluator.Environment, x provider.Explanation, bucket int) string {
	switch x.Outcome {
	case "flag-disabled":
		return "defaultEnabled is false: the flag is off everywhere"
	case "environment-missing":
		return fmt.Sprintf("the flag has no environment %q", x.Environment)
	case "environment-disabled":
		return fmt.Sprintf("environment %q is disabled", x.Environment)
	case "allowlist-user":
		return fmt.Sprintf("%q is in the user allowlist (the bucket plays no part)", x.Subject)
	case "allowlist-region":
		return fmt.Sprintf("region %q is in the region allowlist (the bucket plays no part)", x.Region)
	case "rollout-hit":
		return fmt.Sprintf("bucket %d < rolloutPercent %d", bucket, env.RolloutPercent)
	case "rollout-miss":
		return fmt.Sprintf("bucket %d ≥ rolloutPercent %d", bucket, env.RolloutPercent)
	}
	return x.Outcome
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
