package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/experiment"
	"github.com/redisflags/redisflags/provider"
)

// runExperiment is "redisflags experiment FLAG --metric EVENT": the
// experiment's results from the tracking stream (exposures recorded by
// providers for flags with metadata "experiment": true, and the tracking
// events applications send).
func runExperiment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("experiment", "experiment FLAG --metric EVENT [--control VARIANT] [--environment E] [--alpha A] [--plot FILE.png] [--json]", stderr)
	var c conn
	c.register(fs)
	metric := fs.String("metric", "", "the tracking event that counts as a conversion (required)")
	control := fs.String("control", "", "the `variant` the others are compared with (default: off for a tutorial flag, else the default variant)")
	environment := fs.String("environment", "production", "the environment whose exposures count")
	alpha := fs.Float64("alpha", 0.05, "significance level")
	plotFile := fs.String("plot", "", "also draw the rates and intervals into this PNG `file`")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 1, 1); err != nil {
		return err
	}
	if *metric == "" {
		fmt.Fprintln(stderr, "redisflags experiment: --metric is required")
		fs.Usage()
		return errUsage
	}
	if *alpha <= 0 || *alpha >= 0.5 {
		return fmt.Errorf("--alpha %g: want a level between 0 and 0.5", *alpha)
	}
	rdb, st, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	f, err := st.Get(ctx, pos[0])
	if err != nil {
		return fmt.Errorf("flag %q: %w", pos[0], err)
	}
	if v, _ := f.Metadata[provider.ExperimentMetadataKey].(bool); !v {
		fmt.Fprintf(stderr, "redisflags experiment: flag %q has no metadata \"experiment\": true, so providers record no exposures for it\n", f.Key)
	}
	evs, _, err := experiment.ReadEvents(ctx, st, "")
	if err != nil {
		return err
	}
	arms := experiment.FromEvents(evs, f.Key, *environment, *metric)
	ctl := *control
	if ctl == "" {
		ctl = defaultControl(f)
	}
	arms = withWeights(arms, f, *environment)
	rep, err := experiment.Analyze(arms, ctl, *alpha)
	if err != nil {
		return fmt.Errorf("flag %q in %q: %w", f.Key, *environment, err)
	}
	if *plotFile != "" {
		if err := writePlot(*plotFile, rep, fmt.Sprintf("%s: %s (%s)", f.Key, *metric, *environment)); err != nil {
			return err
		}
	}
	if *asJSON {
		return writeIndentedJSON(stdout, rep)
	}
	conf := 100 * (1 - *alpha)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "VARIANT\tEXPOSED\tCONVERTED\tRATE [%.0f%% CI]\tDIFF TO %s [%.0f%% CI]\tP-VALUE\n", conf, ctl, conf)
	for _, r := range rep.Results {
		diff, p := "control", ""
		if !r.Control {
			diff = fmt.Sprintf("%+.2f pts [%+.2f, %+.2f]", 100*r.Diff, 100*r.DiffLow, 100*r.DiffHigh)
			p = fmt.Sprintf("%.4g", r.PValue)
			if r.Significant {
				p += " *"
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f%% [%.2f, %.2f]\t%s\t%s\n", r.Variant, r.Exposed, r.Converted,
			100*r.Rate, 100*r.Low, 100*r.High, diff, p)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case !rep.SRM.Checked:
		fmt.Fprintln(stdout, "sample ratio: not checked (the split's weights are unknown)")
	case rep.SRM.Mismatch:
		fmt.Fprintf(stdout, "SAMPLE RATIO MISMATCH: chi-square %.2f, p = %.3g < %g: the exposures do not follow the split's weights; do not trust the comparison\n",
			rep.SRM.ChiSquare, rep.SRM.PValue, experiment.SRMAlpha)
	default:
		fmt.Fprintf(stdout, "sample ratio: ok (chi-square %.2f, p = %.3g)\n", rep.SRM.ChiSquare, rep.SRM.PValue)
	}
	return nil
}

func writePlot(path string, rep experiment.Report, title string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WritePNG(out, title); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// defaultControl is "off" for a tutorial flag, else the default variant.
func defaultControl(f evaluator.Flag) string {
	if !f.IsVariantFlag() {
		return provider.VariantOff
	}
	return f.DefaultVariant
}

// withWeights sets each arm's weight from the flag's split in environment:
// a tutorial flag's rollout (on: percent, off: the rest), or a variant
// flag's split weights. Arms the split does not name keep weight 0, which
// leaves the sample-ratio check unchecked.
func withWeights(arms []experiment.Arm, f evaluator.Flag, environment string) []experiment.Arm {
	w := map[string]float64{}
	switch {
	case f.Split != nil:
		for _, v := range f.Split.Weights {
			w[v.Variant] = float64(v.Weight)
		}
	case !f.IsVariantFlag():
		if env, ok := f.Environments[environment]; ok {
			w[provider.VariantOn] = float64(env.RolloutPercent)
			w[provider.VariantOff] = float64(100 - env.RolloutPercent)
		}
	}
	for i := range arms {
		arms[i].Weight = w[arms[i].Variant]
	}
	return arms
}
