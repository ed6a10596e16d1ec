package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redisflags/redisflags/internal/redistest"
)

// requireBrowserEnv turns a missing node, node_modules or chromium from a
// skip into a failure (.ci/run sets it).
const requireBrowserEnv = "REDISFLAGS_REQUIRE_BROWSER"

// adminToken is the admin token of every server these tests start.
const adminToken = "interop-admin-token"

// missing skips the test with why, or fails it under
// REDISFLAGS_REQUIRE_BROWSER=1.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv(requireBrowserEnv) == "1" {
		t.Fatalf("%s, and %s=1", msg, requireBrowserEnv)
	}
	t.Skipf("%s (run `npm ci` in interop/; set %s=1 to make this a failure)", msg, requireBrowserEnv)
}

// nodePackages are the packages of package.json the tests load.
var nodePackages = []string{
	"@openfeature/server-sdk", "@openfeature/ofrep-provider",
	"@openfeature/web-sdk", "@openfeature/ofrep-web-provider",
	"@openfeature/core", "playwright-core",
}

// nodeBinary returns node's path once the npm packages are installed in
// this directory, or skips (fails) the test.
func nodeBinary(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not installed: %v", err)
	}
	for _, p := range nodePackages {
		if _, err := os.Stat(filepath.Join("node_modules", p, "package.json")); err != nil {
			missing(t, "npm package %s is not installed in interop/node_modules", p)
		}
	}
	return bin
}

// chromiumBinary returns Debian's chromium ($REDISFLAGS_CHROMIUM, else
// chromium on PATH), or skips (fails) the test.
func chromiumBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("REDISFLAGS_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			missing(t, "REDISFLAGS_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	bin, err := exec.LookPath("chromium")
	if err != nil {
		missing(t, "chromium is not installed: %v", err)
	}
	return bin
}

// serverBinary returns $REDISFLAGS_BIN, or builds ./cmd/redisflags into
// the test's temporary directory.
func serverBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("REDISFLAGS_BIN"); p != "" {
		return p
	}
	out := filepath.Join(t.TempDir(), "redisflags")
	cmd := exec.Command("go", "build", "-o", out, "../cmd/redisflags")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/redisflags: %v\n%s", err, b)
	}
	return out
}

// process is a child process in a process group of its own, killed (the
// whole group) when the test ends.
type process struct {
	cmd    *exec.Cmd
	done   chan struct{}
	stderr *lockedBuffer
}

// startProcess starts name with args (and env added to this process's
// environment), stdout to stdout and stderr kept for messages.
func startProcess(t *testing.T, name string, args []string, env []string, stdout io.Writer) *process {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &process{cmd: cmd, done: make(chan struct{}), stderr: &lockedBuffer{}}
	cmd.Stdout = stdout
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	return p
}

// stop sends SIGTERM to the process group, then SIGKILL after 5 s.
func (p *process) stop() {
	select {
	case <-p.done:
		// Reaped: its pid (and so the group's id) may belong to another
		// process by now. Chromium, which playwright starts in a group of
		// its own, is killed by killProfile.
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// wait waits for the process to exit, at most d; it kills it after d.
func (p *process) wait(d time.Duration) error {
	select {
	case <-p.done:
	case <-time.After(d):
		p.stop()
		return fmt.Errorf("still running after %v: killed", d)
	}
	if p.cmd.ProcessState.ExitCode() != 0 {
		return fmt.Errorf("exit status %d", p.cmd.ProcessState.ExitCode())
	}
	return nil
}

// lockedBuffer is a buffer a process writes while a test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Bytes returns a copy of what was written so far.
func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// server is one `redisflags serve` under test.
type server struct {
	URL     string // http://127.0.0.1:PORT
	process *process
}

// startServer runs `redisflags serve` against redis with the admin token
// and, when corsOrigin is set, --cors-origin; it returns once /healthz
// answers.
func startServer(t *testing.T, bin string, rs *redistest.Server, corsOrigin string) *server {
	t.Helper()
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"serve", "--addr", addr, "--redis-url", rs.URL(), "--admin-token", adminToken}
	if corsOrigin != "" {
		args = append(args, "--cors-origin", corsOrigin)
	}
	p := startProcess(t, bin, args, nil, io.Discard)
	s := &server{URL: "http://" + addr, process: p}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-p.done:
			t.Fatalf("redisflags serve exited at start: %s", p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redisflags serve did not answer /healthz within 20s: %v\n%s", err, p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// client is the HTTP client of the tests, with a generous timeout.
var client = &http.Client{Timeout: 30 * time.Second}

// putFlag writes a definition through the admin API.
func (s *server) putFlag(t *testing.T, def map[string]any) {
	t.Helper()
	key, _ := def["flagKey"].(string)
	body, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, s.URL+"/api/admin/flags/"+key, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("PUT flag %s: %v", key, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT flag %s: %s: %s", key, resp.Status, b)
	}
}

// waitForFlags waits until the bulk OFREP evaluation lists every key (the
// server has seen every write).
func (s *server) waitForFlags(t *testing.T, keys []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var missingKeys []string
	for time.Now().Before(deadline) {
		missingKeys = missingKeys[:0]
		listed, err := s.bulkKeys(t.Context())
		if err == nil {
			for _, k := range keys {
				if !listed[k] {
					missingKeys = append(missingKeys, k)
				}
			}
			if len(missingKeys) == 0 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the server's bulk OFREP evaluation still lacks %v after 15s", missingKeys)
}

func (s *server) bulkKeys(ctx context.Context) (map[string]bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/ofrep/v1/evaluate/flags",
		strings.NewReader(`{"context":{"targetingKey":"probe"}}`))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Flags []struct {
			Key string `json:"key"`
		} `json:"flags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("bulk answer %s: %w", resp.Status, err)
	}
	out := make(map[string]bool, len(body.Flags))
	for _, f := range body.Flags {
		out[f.Key] = true
	}
	return out, nil
}

// runNode runs a script of this directory with node and returns its
// stdout; it fails the test (with the script's stderr) when the script
// fails or runs longer than limit.
func runNode(t *testing.T, node string, limit time.Duration, env []string, args ...string) []byte {
	t.Helper()
	var out lockedBuffer
	p := startProcess(t, node, args, env, &out)
	if err := p.wait(limit); err != nil {
		t.Fatalf("node %s: %v\nstderr:\n%s", strings.Join(args, " "), err, p.stderr)
	}
	return out.Bytes()
}
