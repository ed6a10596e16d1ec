package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name the sentinels of [StartSentinel] monitor.
const MasterName = "mymaster"

// Sentinel timings: short, so that a failover takes a few seconds.
const (
	// SentinelDownAfter is down-after-milliseconds: how long the primary
	// may not answer before a sentinel thinks it down.
	SentinelDownAfter = time.Second
	// SentinelFailoverTimeout is failover-timeout.
	SentinelFailoverTimeout = 3 * time.Second
)

// Sentinel is a primary, one replica and three sentinels (quorum 2) on
// loopback, owned by a test and killed when it ends. Kill Primary to make
// the sentinels promote Replica.
type Sentinel struct {
	Primary *Server
	Replica *Server

	sentinels []*sentinelProc
}

// sentinelProc is one `redis-server sentinel.conf --sentinel` process. It is
// not a [Server]: a sentinel needs its (rewritable) configuration file as
// the first argument.
type sentinelProc struct {
	dir  string
	port int

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartSentinel starts the primary (opts apply to it and to the replica),
// the replica, waits for replication to be up, then starts three sentinels
// monitoring the primary as [MasterName] with quorum 2, down-after 1 s and
// failover-timeout 3 s, and waits until each knows the replica and the two
// other sentinels. It takes two to three seconds.
func StartSentinel(tb testing.TB, opts ...Option) *Sentinel {
	tb.Helper()
	bin := Binary(tb)
	// Without a delay for diskless sync a replica syncs at once instead of
	// after the default 5 s (the replica too: it may be promoted).
	noDelay := WithArgs("--repl-diskless-sync-delay", "0")
	s := &Sentinel{Primary: Start(tb, append([]Option{noDelay}, opts...)...)}
	s.Replica = Start(tb, append([]Option{noDelay, WithArgs("--replicaof", "127.0.0.1", strconv.Itoa(s.Primary.Port()))}, opts...)...)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitFor(ctx, func() error { return infoHas(ctx, s.Replica, "replication", "master_link_status:up") }); err != nil {
		tb.Fatalf("replica did not sync with the primary: %v", err)
	}
	for range 3 {
		p, err := startSentinelProc(tb, bin, s.Primary.Port())
		if err != nil {
			tb.Fatalf("start sentinel: %v", err)
		}
		s.sentinels = append(s.sentinels, p)
	}
	err := waitFor(ctx, func() error {
		for _, p := range s.sentinels {
			c := p.client()
			m, err := c.Master(ctx, MasterName).Result()
			_ = c.Close()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel %s knows %s replicas and %s other sentinels", p.addr(), m["num-slaves"], m["num-other-sentinels"])
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("sentinels not ready: %v", err)
	}
	return s
}

func startSentinelProc(tb testing.TB, bin string, primaryPort int) (*sentinelProc, error) {
	var err error
	for range 5 {
		p := &sentinelProc{dir: tb.TempDir()}
		if p.port, err = FreePort(); err != nil {
			continue
		}
		if err = p.start(bin, primaryPort); err == nil {
			tb.Cleanup(p.kill)
			return p, nil
		}
	}
	return nil, err
}

func (p *sentinelProc) start(bin string, primaryPort int) error {
	conf := filepath.Join(p.dir, "sentinel.conf")
	text := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
daemonize no
dir %s
logfile %s
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s %d
sentinel parallel-syncs %s 1
`, p.port, p.dir, filepath.Join(p.dir, "redis.log"),
		MasterName, primaryPort,
		MasterName, SentinelDownAfter.Milliseconds(),
		MasterName, SentinelFailoverTimeout.Milliseconds(),
		MasterName)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("sentinel on port %d exited at start: %s", p.port, tail(filepath.Join(p.dir, "redis.log")))
		default:
		}
		if ping(p.addr()) == nil {
			p.mu.Lock()
			p.cmd = cmd
			p.mu.Unlock()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return fmt.Errorf("sentinel on port %d did not answer within 10s: %s", p.port, tail(filepath.Join(p.dir, "redis.log")))
}

func (p *sentinelProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

func (p *sentinelProc) client() *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: p.addr(), DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, MaxRetries: -1})
}

func (p *sentinelProc) kill() {
	p.mu.Lock()
	cmd := p.cmd
	p.cmd = nil
	p.mu.Unlock()
	killGroup(cmd, p.addr())
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// waitFor polls check until it returns nil or ctx ends, returning its last
// error then.
func waitFor(ctx context.Context, check func() error) error {
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// infoHas reports whether INFO section of s contains want.
func infoHas(ctx context.Context, s *Server, section, want string) error {
	v, err := s.Do(ctx, "INFO", section)
	if err != nil {
		return err
	}
	if text, _ := v.(string); !strings.Contains(text, want) {
		return fmt.Errorf("%s: no %q in INFO %s", s.Addr(), want, section)
	}
	return nil
}

// SentinelAddrs returns the sentinels' "127.0.0.1:port" addresses.
func (s *Sentinel) SentinelAddrs() []string {
	out := make([]string, len(s.sentinels))
	for i, p := range s.sentinels {
		out[i] = p.addr()
	}
	return out
}

// FailoverOptions returns options for redis.NewFailoverClient with the
// short timeouts of [Server.Options].
func (s *Sentinel) FailoverOptions() *redis.FailoverOptions {
	return &redis.FailoverOptions{
		MasterName:    MasterName,
		SentinelAddrs: s.SentinelAddrs(),
		DialTimeout:   500 * time.Millisecond,
		ReadTimeout:   time.Second,
		WriteTimeout:  time.Second,
		MaxRetries:    -1,
	}
}

// Client returns a new failover client (redis.NewFailoverClient), which
// asks the sentinels for the primary and follows a failover; it is closed
// when the test ends.
func (s *Sentinel) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewFailoverClient(s.FailoverOptions())
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// PrimaryAddr returns the primary's address as a majority of the sentinels
// report it (SENTINEL GET-MASTER-ADDR-BY-NAME).
func (s *Sentinel) PrimaryAddr(ctx context.Context) (string, error) {
	votes := map[string]int{}
	var errs []error
	for _, p := range s.sentinels {
		c := p.client()
		addr, err := c.GetMasterAddrByName(ctx, MasterName).Result()
		_ = c.Close()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(addr) == 2 {
			votes[addr[0]+":"+addr[1]]++
		}
	}
	for a, n := range votes {
		if n*2 > len(s.sentinels) {
			return a, nil
		}
	}
	return "", fmt.Errorf("no majority among the sentinels (%v): %w", votes, errors.Join(errs...))
}

// WaitForFailover waits until a majority of the sentinels name a primary
// other than old and that server answers as a primary, and returns its
// address. It fails the test after within.
func (s *Sentinel) WaitForFailover(tb testing.TB, old string, within time.Duration) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var addr string
	err := waitFor(ctx, func() error {
		a, err := s.PrimaryAddr(ctx)
		if err != nil {
			return err
		}
		if a == old {
			return fmt.Errorf("sentinels still name %s", old)
		}
		for _, srv := range []*Server{s.Primary, s.Replica} {
			if srv.Addr() == a {
				if err := infoHas(ctx, srv, "replication", "role:master"); err != nil {
					return err
				}
			}
		}
		addr = a
		return nil
	})
	if err != nil {
		tb.Fatalf("no failover from %s within %v: %v", old, within, err)
	}
	return addr
}

// Rejoin restarts srv, a killed server of this setup, as a replica of the
// primary the sentinels name now, and waits until it has synced. The
// sentinels would reconfigure a returning old primary themselves, but only
// after some 15 s; this is what an operator's restart with the right
// replicaof does.
func (s *Sentinel) Rejoin(tb testing.TB, srv *Server) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	primary, err := s.PrimaryAddr(ctx)
	if err != nil {
		tb.Fatalf("rejoin: %v", err)
	}
	host, port, _ := strings.Cut(primary, ":")
	srv.Restart()
	if _, err := srv.Do(ctx, "REPLICAOF", host, port); err != nil {
		tb.Fatalf("rejoin %s as replica of %s: %v", srv.Addr(), primary, err)
	}
	if err := waitFor(ctx, func() error { return infoHas(ctx, srv, "replication", "master_link_status:up") }); err != nil {
		tb.Fatalf("rejoin %s as replica of %s: %v", srv.Addr(), primary, err)
	}
}
