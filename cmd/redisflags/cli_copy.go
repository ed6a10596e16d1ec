package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/store"
)

// runCopy is "redisflags copy --to-key-prefix P2 [--to-redis-url URL2]":
// every flag under --key-prefix on --redis-url is copied to P2, on the same
// server or on URL2, with store.Copy. That is the migration from the
// tutorial's "feature-flags" to a hash-tagged "{feature-flags}", whose keys
// share one slot so that Redis Cluster can run each flag's transaction.
// When URL2 is a Redis Cluster node (cluster_enabled:1), the copy goes
// through a cluster client seeded with it, so every slot is reached.
//
// Nothing is written when a source flag does not parse or validate; flags
// already under P2 are replaced, others there are left alone. Copying a
// prefix onto itself (same server, same database) is refused.
func runCopy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("copy", "copy --to-key-prefix PREFIX [--to-redis-url URL] [--actor NAME] [--dry-run]\n\n"+
		"Copies every flag under --key-prefix on --redis-url to --to-key-prefix, on the same\n"+
		"server or on --to-redis-url (a Redis Cluster node is recognized). Flags already\n"+
		"there are replaced; nothing is written if a source flag does not parse.", stderr)
	var from conn
	from.register(fs)
	var to conn
	fs.StringVar(&to.prefix, "to-key-prefix", "", "key `prefix` to copy to (required), such as {feature-flags} for Redis Cluster")
	to.redisURL = secret{url: true}
	fs.Var(&to.redisURL, "to-redis-url", "Redis `URL` to copy to (default: --redis-url)")
	who := fs.String("actor", defaultActor(), "`name` recorded in the destination's audit trail")
	dryRun := fs.Bool("dry-run", false, "list the flags that would be created and replaced, write nothing")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(fs, pos, 0, 0); err != nil {
		return err
	}
	if to.prefix == "" {
		fmt.Fprintln(stderr, "redisflags copy: --to-key-prefix is required")
		fs.Usage()
		return errUsage
	}

	srcRDB, src, err := from.open(ctx)
	if err != nil {
		return err
	}
	defer srcRDB.Close()
	dstRDB := redis.UniversalClient(srcRDB)
	if to.redisURL.reveal() != "" {
		single, _, err := to.open(ctx)
		if err != nil {
			return fmt.Errorf("--to-redis-url: %w", err)
		}
		defer single.Close()
		dstRDB = single
		if from.prefix == to.prefix && sameDatabase(ctx, srcRDB, single) {
			return refuseSelfCopy(from.prefix)
		}
		if isClusterNode(ctx, single) {
			cluster, err := openCluster(ctx, to.redisURL)
			if err != nil {
				return err
			}
			defer cluster.Close()
			dstRDB = cluster
		}
	} else if from.prefix == to.prefix {
		return refuseSelfCopy(from.prefix)
	}

	dst := to.store(dstRDB)
	if *dryRun {
		create, replace, err := store.CopyPlan(ctx, src, dst)
		if err != nil {
			return err
		}
		for _, k := range create {
			fmt.Fprintln(stdout, "create   "+k)
		}
		for _, k := range replace {
			fmt.Fprintln(stdout, "replace  "+k)
		}
		fmt.Fprintf(stdout, "dry run: %d flag(s) from %q to %q: %d to create, %d to replace; nothing written\n",
			len(create)+len(replace), from.prefix, to.prefix, len(create), len(replace))
		return nil
	}
	var bar *progress
	n, err := store.CopyWithProgress(ctx, src, dst, func(done, total int) {
		if bar == nil {
			bar = newProgress(stderr, "copying", total)
		}
		bar.add(1)
	}, store.Actor(*who))
	bar.finish()
	if err != nil {
		if n > 0 {
			fmt.Fprintf(stdout, "copied %d flag(s) from %q to %q before an error; running copy again completes it\n", n, from.prefix, to.prefix)
		}
		return err
	}
	fmt.Fprintf(stdout, "copied %d flag(s) from %q to %q\n", n, from.prefix, to.prefix)
	return nil
}

// refuseSelfCopy is the error for copying a prefix onto itself.
func refuseSelfCopy(prefix string) error {
	suggest := ""
	if !strings.ContainsAny(prefix, "{}") {
		suggest = fmt.Sprintf(" (such as %q, for Redis Cluster)", "{"+prefix+"}")
	}
	return fmt.Errorf("copy: --to-key-prefix %q is the source prefix on the same server and database: give another prefix%s or --to-redis-url", prefix, suggest)
}

// sameDatabase reports whether a and b reach the same database of the same
// server: the same address, or the same run_id when the addresses differ
// (localhost and 127.0.0.1), and the same database number.
func sameDatabase(ctx context.Context, a, b *redis.Client) bool {
	if a.Options().DB != b.Options().DB {
		return false
	}
	if a.Options().Addr == b.Options().Addr {
		return true
	}
	idA, idB := infoField(ctx, a, "server", "run_id"), infoField(ctx, b, "server", "run_id")
	return idA != "" && idA == idB
}

// isClusterNode reports whether the server rdb talks to runs in cluster
// mode.
func isClusterNode(ctx context.Context, rdb *redis.Client) bool {
	return infoField(ctx, rdb, "cluster", "cluster_enabled") == "1"
}

// infoField returns one field of an INFO section, or "" when the server
// does not say.
func infoField(ctx context.Context, rdb *redis.Client, section, field string) string {
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return ""
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// openCluster returns a Redis Cluster client seeded with the node of url
// (redis.ParseClusterURL: credentials, TLS and "?addr=" seeds as in the
// URL), checked to answer.
func openCluster(ctx context.Context, url secret) (*redis.ClusterClient, error) {
	opts, err := redis.ParseClusterURL(url.reveal())
	if err != nil {
		// The URL may hold a password: the error repeats it, so scrub it.
		return nil, fmt.Errorf("--to-redis-url %v: %w", url, scrub(err, url))
	}
	rdb := redis.NewClusterClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.ForEachShard(pctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("--to-redis-url: the Redis Cluster does not answer: %w", err)
	}
	return rdb, nil
}
