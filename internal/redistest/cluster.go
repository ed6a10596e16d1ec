package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of three primaries (no replicas) on loopback,
// owned by a test: each node is a [Server] started with cluster mode on, in
// its own temporary directory, and killed when the test ends.
type Cluster struct {
	// Nodes are the three primaries, in the order their slots were
	// assigned (0–5460, 5461–10922, 10923–16383).
	Nodes []*Server
}

// CLIBinary returns the redis-cli path, or skips (or fails, under
// REDISFLAGS_REQUIRE_REDIS=1) the test when it is not installed.
func CLIBinary(tb testing.TB) string {
	tb.Helper()
	return lookBinary(tb, "redis-cli")
}

// StartCluster starts three redis-server processes with cluster mode on,
// joins them with `redis-cli --cluster create … --cluster-replicas 0`, and
// waits until every node reports cluster_state:ok with all 16384 slots
// served. opts apply to every node (WithKeyspaceNotifications, say). It
// takes one to two seconds.
func StartCluster(tb testing.TB, opts ...Option) *Cluster {
	tb.Helper()
	cli := CLIBinary(tb)
	c := &Cluster{}
	for range 3 {
		// The cluster bus listens on port+10000 unless told otherwise, which
		// for a port picked from the ephemeral range may be above 65535 or
		// taken: give it a free port of its own.
		bus, err := FreePort()
		if err != nil {
			tb.Fatalf("free port for the cluster bus: %v", err)
		}
		nodeOpts := append([]Option{WithArgs(
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", // in the node's own directory
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", "5000",
		)}, opts...)
		c.Nodes = append(c.Nodes, Start(tb, nodeOpts...))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitOK(ctx); err != nil {
		tb.Fatalf("cluster did not become ready: %v\nredis-cli said:\n%s", err, out)
	}
	return c
}

// waitOK polls CLUSTER INFO on every node until each reports a complete,
// healthy cluster of three.
func (c *Cluster) waitOK(ctx context.Context) error {
	want := []string{"cluster_state:ok", "cluster_slots_ok:16384", "cluster_known_nodes:3"}
	for {
		var last error
		for _, n := range c.Nodes {
			info, err := n.Do(ctx, "CLUSTER", "INFO")
			if err != nil {
				last = fmt.Errorf("node %s: %w", n.Addr(), err)
				break
			}
			text, _ := info.(string)
			for _, w := range want {
				if !strings.Contains(text, w) {
					last = fmt.Errorf("node %s: no %q in CLUSTER INFO", n.Addr(), w)
					break
				}
			}
			if last != nil {
				break
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addrs returns the nodes' "127.0.0.1:port" addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// Options returns cluster client options with the short timeouts of
// [Server.Options].
func (c *Cluster) Options() *redis.ClusterOptions {
	return &redis.ClusterOptions{
		Addrs:        c.Addrs(),
		DialTimeout:  500 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		MaxRetries:   -1,
	}
}

// Client returns a new cluster client, closed when the test ends.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cc := redis.NewClusterClient(c.Options())
	tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

// NodeOf returns the node that serves key's slot, asking the cluster
// (CLUSTER KEYSLOT, then CLUSTER SHARDS).
func (c *Cluster) NodeOf(tb testing.TB, key string) *Server {
	tb.Helper()
	ctx := context.Background()
	v, err := c.Nodes[0].Do(ctx, "CLUSTER", "KEYSLOT", key)
	if err != nil {
		tb.Fatalf("CLUSTER KEYSLOT %s: %v", key, err)
	}
	slot, _ := v.(int64)
	cl := redis.NewClient(c.Nodes[0].Options())
	defer cl.Close()
	shards, err := cl.ClusterShards(ctx).Result()
	if err != nil {
		tb.Fatalf("CLUSTER SHARDS: %v", err)
	}
	for _, sh := range shards {
		for _, r := range sh.Slots {
			if r.Start > slot || slot > r.End {
				continue
			}
			for _, node := range sh.Nodes {
				if node.Role != "master" {
					continue
				}
				for _, n := range c.Nodes {
					if n.Addr() == fmt.Sprintf("%s:%d", node.IP, node.Port) {
						return n
					}
				}
			}
		}
	}
	tb.Fatalf("no node serves slot %d of %s", slot, key)
	return nil
}
