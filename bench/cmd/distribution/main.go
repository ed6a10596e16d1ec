// Command distribution measures how evenly the rollout bucket
// (evaluator.Bucket) spreads subjects over the 100 buckets of one flag in one
// environment, and writes a text table and a PNG histogram.
//
// Usage:
//
//	go run ./bench/cmd/distribution [-flag checkout-banner] [-env production] \
//		[-n 1000000] [-prefix user-] [-out-table FILE] [-out-png FILE]
//
// The subjects are prefix followed by 0 … n-1. The table goes to -out-table,
// or to standard output when it is empty; the PNG is written only when
// -out-png is set. bench/README.md shows the output for the defaults.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/redisflags/redisflags/bench/internal/fairness"
	"github.com/redisflags/redisflags/evaluator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "distribution:", err)
		}
		os.Exit(2)
	}
}

// config is what the command line asks for.
type config struct {
	flagKey, env, prefix string
	n                    int
	outTable, outPNG     string
}

func parse(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("distribution", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.flagKey, "flag", "checkout-banner", "flag key")
	fs.StringVar(&c.env, "env", "production", "environment")
	fs.StringVar(&c.prefix, "prefix", "user-", "subjects are this prefix followed by 0 … n-1")
	fs.IntVar(&c.n, "n", 1_000_000, "number of subjects")
	fs.StringVar(&c.outTable, "out-table", "", "write the text table to this file (default: standard output)")
	fs.StringVar(&c.outPNG, "out-png", "", "write the histogram PNG to this file (default: none)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.n < 1 {
		return c, fmt.Errorf("-n must be at least 1, got %d", c.n)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	subjects := fairness.Subjects(c.prefix, c.n)
	if err := ctx.Err(); err != nil {
		return err
	}
	s := fairness.Summarize(fairness.Compute(evaluator.Bucket, c.flagKey, c.env, subjects))
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.OutOfRange > 0 {
		return fmt.Errorf("%d subjects got a bucket outside 0–99", s.OutOfRange)
	}
	r := report{config: c, Summary: s}

	if c.outPNG != "" {
		if err := writeFile(c.outPNG, r.writePNG); err != nil {
			return err
		}
	}
	if c.outTable == "" {
		return r.writeTable(stdout)
	}
	return writeFile(c.outTable, r.writeTable)
}

// writeFile creates path and writes it with write, reporting the first of
// write's and Close's errors.
func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if err := write(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
