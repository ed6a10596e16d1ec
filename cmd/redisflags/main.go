// Command redisflags runs next to Redis and manages the flags stored there in
// the layout of the Redis feature-flags tutorial.
//
//	redisflags serve   --addr HOST:PORT --redis-url URL [--admin-token T]   HTTP: the tutorial's API, OFREP, health
//	redisflags flags   list | get KEY | set KEY … | delete KEY                everyday flag work
//	redisflags import  FILE [--format NAME] [--skip KEY,…] [--dry-run]        definitions from a file ("-": stdin); LaunchDarkly, flagd, OpenFeature spec too
//	redisflags export  [--format tutorial|native] [-o FILE]                   every definition to a file
//	redisflags copy    --to-key-prefix P [--to-redis-url URL]                 every flag to another prefix or server ({feature-flags} for Cluster)
//	redisflags bucket  FLAG ENVIRONMENT SUBJECT [--region R]                  why a subject gets what it gets
//	redisflags lint    [--now T] [--stale-after D]                            kill dates passed, stuck rollouts, vague names
//	redisflags audit   [FLAG] [-n N]                                          who changed what, and when
//	redisflags schedule add FLAG --at T … | list | cancel ID                 scheduled changes (applied by serve)
//	redisflags rollout set|pause|resume|rollback FLAG ENV                     progressive rollouts
//	redisflags request list | show | create | approve | reject | cancel       four-eyes change requests
//	redisflags policy  list | set ENV [--require-approval] [--emergency-off] which environments need approval
//	redisflags usage   [FLAG] [--days N]                                      when each flag was last evaluated, and how often
//	redisflags experiment FLAG --metric EVENT [--plot FILE.png]               an experiment's results, with statistics
//
// Every verb takes --redis-url (default $REDIS_URL) and --key-prefix
// (default "feature-flags"). Every write is audited: it appends an entry to
// the stream P:audit in the same transaction (see store.Actor).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// errUsage means the command line was wrong; the usage has been printed.
var errUsage = errors.New("usage")

// errFindings means the command ran and found problems it has reported
// (lint findings): exit status 1 with no further message.
var errFindings = errors.New("problems found")

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errFindings):
		return 1
	default:
		fmt.Fprintln(stderr, "redisflags:", err)
		return 1
	}
}

const usageText = `redisflags: feature flags in Redis (the Redis feature-flags tutorial's layout)

Usage:
  redisflags serve   [--addr HOST:PORT] [--admin-token T] [--environment E] [--log-stream KEY] [--resync D]
                     [--users FILE] [--secure-cookies] [--no-console]
  redisflags flags   list [--json] | get KEY | set KEY [options] | delete KEY [--if-version N]
  redisflags import  FILE [--format tutorial|native|openfeature-spec|flagd|launchdarkly|auto]
                     [--skip KEY,…] [--skip-unsupported] [--environment NAME] [--dry-run] [--actor NAME]
  redisflags export  [--format tutorial|native] [-o FILE]
  redisflags copy    --to-key-prefix PREFIX [--to-redis-url URL] [--actor NAME]
  redisflags bucket  FLAG ENVIRONMENT SUBJECT [--region R]
  redisflags lint    [--now RFC3339] [--stale-after DURATION] [--unused-after DURATION] [--json]
  redisflags audit   [FLAG] [-n N] [--json]
  redisflags schedule add FLAG --at T (--on|--off|--percent N|--value JSON|--enable-env|--disable-env|--delete|--definition FILE) [--environment E]
                     | list [FLAG] [--json] | cancel ID
  redisflags rollout set FLAG ENV (--from N --to N --start T --end T | --from N --steps "5@T1,25@T2") [--variant V]
                     | pause FLAG ENV | resume FLAG ENV | rollback FLAG ENV [--percent N]
  redisflags request list [FLAG] | show ID | create FILE | create-delete FLAG | approve ID [--digest D]
                     | reject ID --comment C | cancel ID
  redisflags policy  list | set ENV [--require-approval] [--emergency-off]
  redisflags usage   [FLAG] [--days N] [--json]
  redisflags experiment FLAG --metric EVENT [--control VARIANT] [--environment E] [--alpha A]
                     [--plot FILE.png] [--json]
  redisflags user    NAME viewer|editor|admin   (password on stdin; prints a --users line)

Every verb takes --redis-url (default $REDIS_URL) and --key-prefix (default feature-flags);
every CLI write records --actor (default: the user at the terminal) in the audit trail.
"redisflags VERB -h" describes a verb's options.
`

// run is the whole command, minus the process: it parses args, talks to
// Redis and writes to stdout and stderr. It returns errUsage after printing
// the usage, errFindings after reporting findings, or an error to print.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return errUsage
	}
	verb, rest := args[0], args[1:]
	switch verb {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "flags":
		return runFlags(ctx, rest, stdout, stderr)
	case "import":
		return runImport(ctx, rest, stdout, stderr)
	case "export":
		return runExport(ctx, rest, stdout, stderr)
	case "copy":
		return runCopy(ctx, rest, stdout, stderr)
	case "bucket":
		return runBucket(ctx, rest, stdout, stderr)
	case "lint":
		return runLint(ctx, rest, stdout, stderr)
	case "audit":
		return runAudit(ctx, rest, stdout, stderr)
	case "schedule":
		return runSchedule(ctx, rest, stdout, stderr)
	case "rollout":
		return runRollout(ctx, rest, stdout, stderr)
	case "request":
		return runRequest(ctx, rest, stdout, stderr)
	case "policy":
		return runPolicy(ctx, rest, stdout, stderr)
	case "usage":
		return runUsage(ctx, rest, stdout, stderr)
	case "experiment":
		return runExperiment(ctx, rest, stdout, stderr)
	case "user":
		return runUser(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "redisflags", version())
		return nil
	default:
		fmt.Fprintf(stderr, "redisflags: unknown verb %q\n\n%s", verb, usageText)
		return errUsage
	}
}

// version is the module version and VCS revision the binary was built
// from, as the Go toolchain recorded them ("(devel)" in a plain go build).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v += " " + s.Value
		case "vcs.modified":
			if s.Value == "true" {
				v += " (modified)"
			}
		}
	}
	return v
}
