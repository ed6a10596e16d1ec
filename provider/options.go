package provider

import (
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/redisflags/redisflags/store"
)

// Option configures a Provider.
type Option func(*config)

type config struct {
	environment    string
	prefix         string
	direct         bool
	resyncInterval time.Duration
	resyncBudget   float64 // Redis commands per second; 0: unbudgeted
	tracking       bool
	initTimeout    time.Duration
	healthInterval time.Duration
	fallbackFile   string
	contextKind    string
	logger         *slog.Logger
	simplePrefix   string
	largeSet       int64
	memberTTL      time.Duration
	clock          func() time.Time
	usageEvery     time.Duration // 0: evaluations are not counted
	track          trackConfig
	exposure       exposureConfig
	meters         metric.MeterProvider // nil: no provider metrics
}

func defaultConfig() config {
	return config{
		environment:    "production",
		prefix:         store.DefaultKeyPrefix,
		resyncInterval: 30 * time.Second,
		resyncBudget:   DefaultResyncBudget,
		tracking:       true,
		initTimeout:    5 * time.Second,
		healthInterval: time.Second,
		contextKind:    "user",
		largeSet:       10_000,
		memberTTL:      time.Second,
		logger:         slog.New(slog.DiscardHandler),
		clock:          time.Now,
		track:          defaultTrackConfig(),
		exposure:       exposureConfig{window: 24 * time.Hour, max: 100_000},
	}
}

// WithClock sets the clock progressive rollouts are read at (see
// evaluator.Rollout). Default: time.Now. It is called only when a flag
// with a rollout (or with prerequisites) is evaluated, from any goroutine,
// so it must be safe for concurrent use. For tests; a snapshot needs no
// reload at a rollout's step: the percent follows the clock.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.clock = now
		}
	}
}

// WithEnvironment sets the environment evaluated when the evaluation context
// has no "environment" attribute. Default: "production".
func WithEnvironment(name string) Option {
	return func(c *config) {
		if name != "" {
			c.environment = name
		}
	}
}

// WithKeyPrefix sets the Redis key prefix. Default: "feature-flags", the
// tutorial's. See [store.WithKeyPrefix] for Redis Cluster.
func WithKeyPrefix(prefix string) Option {
	return func(c *config) {
		if prefix != "" {
			c.prefix = prefix
		}
	}
}

// WithSimpleFlags also serves the "dynamic flags with Redis" pattern's
// plain string keys "<prefix><name>" ("true", "false", or a canary
// percentage 0–100) as boolean flags, such as prefix "feature:" for
// `redis-cli SET feature:new_checkout_flow false`. See
// [store.WithSimpleFlags]. Default: off.
func WithSimpleFlags(prefix string) Option {
	return func(c *config) { c.simplePrefix = prefix }
}

// WithLargeAllowlists sets the size above which an allowlist is not copied
// into the snapshot: membership is then asked with SISMEMBER, through a
// small cache whose answers live for ttl (and are dropped at once when the
// flag's change notice or keyspace notification arrives), so that memory
// does not grow with an allowlist of millions and answers stay exact.
// Defaults: 10,000 members, 1 s. Below the threshold the snapshot path is
// unchanged. A threshold of 0 or less keeps every allowlist in memory.
func WithLargeAllowlists(threshold int64, ttl time.Duration) Option {
	return func(c *config) {
		c.largeSet = max(threshold, 0)
		if ttl > 0 {
			c.memberTTL = ttl
		}
	}
}

// WithDirectReads switches the provider to direct reads: no snapshot, one
// Redis round trip per evaluation that touches only the requested
// environment's keys. Default: off (live snapshot).
//
// Deadlines: a direct read honours the caller's context deadline only when
// the go-redis client has ContextTimeoutEnabled set (redis.Options,
// redis.ClusterOptions); without it go-redis waits for its ReadTimeout (3 s
// by default) whatever the deadline, and New logs a warning. With it, an
// evaluation whose deadline passes while Redis is slow (or paused) returns
// the caller's default with an error (GENERAL) at the deadline:
//
//	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
func WithDirectReads() Option {
	return func(c *config) { c.direct = true }
}

// WithResyncInterval sets how often the resync starts over: the safety
// net for writes that publish no change notice (the tutorial's application,
// redis-cli) when neither client tracking nor keyspace notifications tell
// of them. The resync reads every flag again, paced by WithResyncBudget,
// and takes in what differs; a cycle starts at most once per interval, and
// a cycle over many flags takes longer (see WithResyncBudget). Default:
// 30s. Values under 10ms are raised to 10ms.
func WithResyncInterval(d time.Duration) Option {
	return func(c *config) { c.resyncInterval = max(d, 10*time.Millisecond) }
}

// DefaultResyncBudget is the resync's default pace, in Redis commands per
// second.
const DefaultResyncBudget = 40

// WithResyncBudget paces the resync to about perSecond Redis commands per
// second (as INFO commandstats counts them), so that an idle provider costs
// Redis little at any flag count: reading a flag of 3 environments costs
// about 17 commands (store.LoadCost), so at the default of 40 a cycle over
// 1,000 such flags takes ~7 minutes and over 100,000 ~12 hours. That is the
// bound on a raw write's delay only without client tracking
// (WithClientTracking) and keyspace notifications, which tell of raw writes
// at once; README's "Freshness" gives the table. perSecond ≤ 0 removes the budget: every flag is read at
// once, every WithResyncInterval.
func WithResyncBudget(perSecond float64) Option {
	return func(c *config) { c.resyncBudget = max(perSecond, 0) }
}

// WithClientTracking turns Redis client tracking of the flags' keys on or
// off (default on). With it, Redis (6 or later) tells the provider of every
// write to a flag's keys, raw HSETs by other applications included, at no
// cost while nothing changes. It applies to a *redis.Client on one server;
// with Cluster, Ring or Sentinel failover clients it is off, and so it is
// when Redis refuses CLIENT TRACKING (an ACL, an older server): the
// provider logs why and relies on keyspace notifications and the resync.
func WithClientTracking(on bool) Option {
	return func(c *config) { c.tracking = on }
}

// WithInitTimeout bounds how long Init waits for the first load (or, with
// direct reads, the first PING). After it, Init returns an error (or, with a
// fallback file, serves the file's flags) and keeps trying in the
// background. Default: 5s.
func WithInitTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.initTimeout = d
		}
	}
}

// WithHealthInterval sets how long the change subscription may stay silent
// before the provider PINGs Redis over it; an unanswered PING one interval
// later marks the provider stale. A closed connection is noticed at once,
// whatever this is. Default: 1s.
func WithHealthInterval(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.healthInterval = d
		}
	}
}

// WithFallbackFile names a file the provider writes (atomically) after each
// successful load and reads on a cold start when Redis does not answer
// within the init timeout, so that it serves the last known flags, reporting
// PROVIDER_STALE, instead of defaults. Default: none.
func WithFallbackFile(path string) Option {
	return func(c *config) { c.fallbackFile = path }
}

// WithContextKind sets which context kind of a LaunchDarkly-shaped
// multi-context ("kind": "multi") gives the subject and region. Default:
// "user".
func WithContextKind(kind string) Option {
	return func(c *config) {
		if kind != "" {
			c.contextKind = kind
		}
	}
}

// WithLogger sets where the provider logs connection changes and reloads.
// Default: nothing is logged. Evaluations never log.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}
