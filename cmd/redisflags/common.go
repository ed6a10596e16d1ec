package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/server"
	"github.com/redisflags/redisflags/store"
)

// now is the clock of the command (updatedAt, audit times, lint). Tests
// replace it.
var now = time.Now

// conn holds the options every verb shares: where Redis is and which key
// prefix the flags live under.
type conn struct {
	redisURL secret
	prefix   string
}

func (c *conn) register(fs *flag.FlagSet) {
	c.redisURL.url = true
	secretVar(fs, &c.redisURL, "redis-url", "REDIS_URL", "Redis `URL` (redis:// or rediss://); prefer $REDIS_URL, which ps does not show")
	fs.StringVar(&c.prefix, "key-prefix", store.DefaultKeyPrefix, "key `prefix` of the flags (a hash tag such as {feature-flags} on Redis Cluster)")
}

// client returns a client for --redis-url, without talking to Redis.
func (c *conn) client() (*redis.Client, error) {
	if c.redisURL.reveal() == "" {
		return nil, errors.New("no Redis to talk to: set REDIS_URL or pass --redis-url (only serve can run on an embedded Redis)")
	}
	opts, err := redis.ParseURL(c.redisURL.reveal())
	if err != nil {
		// The URL may hold a password: the error repeats it, so scrub it.
		return nil, fmt.Errorf("--redis-url %v: %w", c.redisURL, scrub(err, c.redisURL))
	}
	return redis.NewClient(opts), nil
}

// open connects to Redis and checks that it answers.
func (c *conn) open(ctx context.Context) (*redis.Client, *store.Store, error) {
	rdb, err := c.client()
	if err != nil {
		return nil, nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		addr := rdb.Options().Addr
		_ = rdb.Close()
		return nil, nil, redisError(addr, err)
	}
	return rdb, c.store(rdb), nil
}

func (c *conn) store(rdb redis.UniversalClient, opts ...store.Option) *store.Store {
	return store.New(rdb, append([]store.Option{store.WithKeyPrefix(c.prefix), store.WithClock(func() time.Time { return now() })}, opts...)...)
}

// newFlagSet returns a flag set for one verb that reports errors rather than
// exiting, printing its usage to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("redisflags "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: redisflags %s\n\nOptions:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags that may come before, between or after the
// positional arguments ("flags get KEY --redis-url …" works as well as
// "flags get --redis-url … KEY"), and returns the positional ones. A bad
// flag returns errUsage (the flag package has printed why), -h flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(fs *flag.FlagSet, pos []string, lo, hi int) error {
	if len(pos) < lo || len(pos) > hi {
		fmt.Fprintf(fs.Output(), "%s: wrong number of arguments (%d)\n", fs.Name(), len(pos))
		fs.Usage()
		return errUsage
	}
	return nil
}

// defaultActor names the person at the terminal for the audit trail:
// $REDISFLAGS_ACTOR, else user@host.
func defaultActor() string {
	if a := os.Getenv("REDISFLAGS_ACTOR"); a != "" {
		return a
	}
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		name += "@" + h
	}
	return "cli:" + name
}

// flagList is the tutorial's list shape, used by GET /api/admin/flags and by
// the tutorial file format.
type flagList struct {
	Flags []evaluator.Flag `json:"flags"`
	// Errors lists stored flags that do not parse (left out of Flags).
	Errors []string `json:"errors,omitempty"`
}

func newFlagList(flags []evaluator.Flag, loadErr error) flagList {
	l := flagList{Flags: make([]evaluator.Flag, 0, len(flags))}
	for _, f := range flags {
		l.Flags = append(l.Flags, server.WireFlag(f))
	}
	l.Errors = splitJoined(loadErr)
	return l
}

// splitJoined returns the messages of an errors.Join, or of one error.
func splitJoined(err error) []string {
	var out []string
	for _, e := range unjoin(err) {
		out = append(out, e.Error())
	}
	return out
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// quoteList renders names for a message: "a", "b" and "c".
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// shorten cuts s to n bytes for a message, marking the cut.
func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// redisError explains a first command's failure: a Redis that answered and
// refused (a password is needed or wrong, the user may not run it) is not a
// Redis that "does not answer".
func redisError(addr string, err error) error {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "NOAUTH"):
		return fmt.Errorf("redis at %s needs a password (%w): give it in the URL, redis://:PASSWORD@HOST:PORT or redis://USER:PASSWORD@HOST:PORT, preferably through $REDIS_URL (ps does not show it)", addr, err)
	case strings.HasPrefix(msg, "WRONGPASS"):
		return fmt.Errorf("redis at %s refused the user or password in the URL (%w): check them (redis://USER:PASSWORD@HOST:PORT, preferably through $REDIS_URL)", addr, err)
	case strings.HasPrefix(msg, "NOPERM"):
		return fmt.Errorf("redis at %s refused a command to this user (%w): see the README's \"Redis ACL\" for what redisflags needs", addr, err)
	}
	return fmt.Errorf("redis at %s does not answer: %w", addr, err)
}
