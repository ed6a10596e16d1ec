// Package redistest starts real redis-server processes for tests.
//
// Every server listens on a free loopback port chosen at start, keeps its
// files in a temporary directory, persists nothing, and is killed when the
// test ends. Tests never touch a server they did not start (this machine may
// run a shared Redis on 6379).
//
// When redis-server is not installed, [Start] skips the test with a message,
// unless REDISFLAGS_REQUIRE_REDIS=1 (set by CI), in which case it fails.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
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

// RequireEnv is the environment variable that turns a missing redis-server
// from a skip into a failure.
const RequireEnv = "REDISFLAGS_REQUIRE_REDIS"

// Server is one redis-server process owned by a test.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Option changes how a server starts.
type Option func(*Server)

// WithArgs adds redis-server command-line arguments, such as
// "--notify-keyspace-events", "KEA".
func WithArgs(args ...string) Option {
	return func(s *Server) { s.args = append(s.args, args...) }
}

// WithKeyspaceNotifications turns on keyspace notifications for every
// command class ("KEA").
func WithKeyspaceNotifications() Option {
	return WithArgs("--notify-keyspace-events", "KEA")
}

// Binary returns the redis-server path, or skips (or fails, under
// REDISFLAGS_REQUIRE_REDIS=1) the test when it is not installed.
func Binary(tb testing.TB) string {
	tb.Helper()
	return lookBinary(tb, "redis-server")
}

// lookBinary returns the path of the program name, or skips the test (fails
// it under REDISFLAGS_REQUIRE_REDIS=1) when it is not installed.
func lookBinary(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(RequireEnv) == "1" {
			tb.Fatalf("%s is not installed and %s=1: %v", name, RequireEnv, err)
		}
		tb.Skipf("%s is not installed (%v); set %s=1 to make this a failure", name, err, RequireEnv)
	}
	return bin
}

// Start starts a redis-server on a free loopback port and registers its
// cleanup with tb.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{tb: tb, bin: Binary(tb), dir: tb.TempDir()}
	for _, o := range opts {
		o(s)
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		s.port, err = FreePort()
		if err != nil {
			continue
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	tb.Cleanup(s.Kill)
	return s
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "no",
		"--logfile", filepath.Join(s.dir, "redis.log"),
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
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
			return fmt.Errorf("redis-server on port %d exited at start: %s", s.port, s.logTail())
		default:
		}
		if ping(s.Addr()) == nil {
			s.mu.Lock()
			s.cmd = cmd
			s.mu.Unlock()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return fmt.Errorf("redis-server on port %d did not answer within 10s: %s", s.port, s.logTail())
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's port.
func (s *Server) Port() int { return s.port }

// Dir returns the server's working directory.
func (s *Server) Dir() string { return s.dir }

// URL returns "redis://127.0.0.1:port/0".
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a new client for the server, closed when the test ends.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := redis.NewClient(s.Options())
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// BulkTimeout is the read and write timeout of BulkClient: long enough for
// a script adding 100,000 members, or a reply of a million, on a machine
// whose cores other processes keep busy.
const BulkTimeout = 2 * time.Minute

// BulkClient returns a client for tests that move large data: Options with
// BulkTimeout for reads and writes and a generous dial timeout, so a loaded
// machine makes them slower rather than failing them with an i/o timeout.
// Assertions about what is moved stay the test's own.
func (s *Server) BulkClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opt := s.Options()
	opt.DialTimeout = 10 * time.Second
	opt.ReadTimeout, opt.WriteTimeout = BulkTimeout, BulkTimeout
	c := redis.NewClient(opt)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Options returns client options for the server with short timeouts suited
// to tests that kill servers.
func (s *Server) Options() *redis.Options {
	return &redis.Options{
		Addr:         s.Addr(),
		DialTimeout:  500 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		MaxRetries:   -1,
	}
}

// Kill stops the server with SIGKILL (as a crash would) and waits for it to
// exit. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	killGroup(cmd, s.Addr())
}

// killGroup sends SIGKILL to the process group of cmd (nil: nothing to do)
// and waits, up to 5 s, until addr stops answering.
func killGroup(cmd *exec.Cmd, addr string) {
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ping(addr) == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// Restart starts the server again on the same port (with an empty data set:
// nothing is persisted). It fails the test if the port cannot be had.
func (s *Server) Restart() {
	s.tb.Helper()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.tb.Fatalf("restart redis-server on port %d: %v", s.port, err)
}

// Do runs one command with a fresh short-lived client, for test set-up.
func (s *Server) Do(ctx context.Context, args ...any) (any, error) {
	c := redis.NewClient(s.Options())
	defer c.Close()
	return c.Do(ctx, args...).Result()
}
