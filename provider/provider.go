package provider

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	of "github.com/open-feature/go-sdk/openfeature"
	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/store"
)

// Name is the provider name reported in metadata and events.
const Name = "redisflags"

// Provider is an OpenFeature provider serving flags stored in Redis in the
// tutorial's layout. Create it with [New]; it is safe for concurrent use.
// The caller keeps ownership of the Redis client and closes it after
// Shutdown.
type Provider struct {
	cfg    config
	client redis.UniversalClient
	store  *store.Store
	// bulk is store reading in small transactions, for the reads that run
	// beside the change notices (sweep.go).
	bulk *store.Store

	// snap is the live snapshot; nil until the first load. Evaluations only
	// Load it; the background loop is its only writer.
	snap atomic.Pointer[snapshot]

	// events is never closed: go-sdk may listen to it across Shutdown and
	// a later Init.
	events chan of.Event

	// compiled caches, in direct mode, variant flags compiled from what
	// Redis returned (their CEL rules are costly to compile per call).
	compiled directCache

	// members caches answers about allowlists left in Redis.
	members memberCache

	// watchers are the subscribers of Watch (changes.go).
	watchers watchers
	// keyspaceRefused is set once Redis refused the keyspace-notification
	// PSUBSCRIBE (NOPERM under an ACL): later sessions do not ask again.
	keyspaceRefused atomic.Bool
	// trackingOn is whether the last session tracks flag keys (tracking.go);
	// trackingLogged is set once it has been logged.
	trackingOn, trackingLogged atomic.Bool

	// usage holds the evaluation counters; nil when counting is off.
	usage *usageTable
	// tracker is the tracking queue (track.go).
	tracker *EventQueue
	// exposures remembers who saw which experiment (track_exposure.go).
	exposures *exposureTable
	// stats feed the provider's metrics (metrics.go).
	stats stats

	mu     sync.Mutex // guards the fields below
	run    *runner    // the background loop; nil when not started
	status status     // what the SDK was last told
	side   *sidecars  // the usage flusher and tracking sender; nil when not started
}

// status is the provider state as last reported to the SDK.
type status int

const (
	statusNotReady status = iota // Init not returned yet, or shut down
	statusReady
	statusStale
	statusError // Init returned an error
	// statusFallback: Init returned nil serving the fallback file, so the
	// SDK reports READY; PROVIDER_STALE follows shortly (unless Redis
	// answers first, and then nothing needs telling).
	statusFallback
)

var (
	_ of.FeatureProvider          = (*Provider)(nil)
	_ of.StateHandler             = (*Provider)(nil)
	_ of.ContextAwareStateHandler = (*Provider)(nil)
	_ of.EventHandler             = (*Provider)(nil)
)

// New returns a provider over client. Nothing touches Redis until the
// OpenFeature SDK calls Init (through SetProvider or SetProviderAndWait).
func New(client redis.UniversalClient, opts ...Option) *Provider {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.direct && !contextTimeoutEnabled(client) {
		cfg.logger.Warn("redisflags: direct reads without the go-redis option ContextTimeoutEnabled wait for the client's ReadTimeout, not the caller's context deadline; set ContextTimeoutEnabled: true")
	}
	st := store.New(client, store.WithKeyPrefix(cfg.prefix), store.WithSimpleFlags(cfg.simplePrefix),
		store.WithLargeSetThreshold(cfg.largeSet))
	p := &Provider{
		cfg:       cfg,
		client:    client,
		store:     st,
		bulk:      st.WithLoadBatch(bulkBatch),
		events:    make(chan of.Event, 256),
		tracker:   newEventQueue(st, cfg.track, cfg.logger),
		exposures: &exposureTable{seed: maphash.MakeSeed()},
	}
	if cfg.usageEvery > 0 {
		p.usage = &usageTable{defaultEnv: cfg.environment}
	}
	if cfg.meters != nil {
		if err := p.registerMetrics(cfg.meters); err != nil {
			cfg.logger.Warn("redisflags: provider metrics not registered", "err", err)
		}
	}
	return p
}

// Metadata returns the provider's name.
func (p *Provider) Metadata() of.Metadata { return of.Metadata{Name: Name} }

// Hooks returns no hooks.
func (p *Provider) Hooks() []of.Hook { return nil }

// EventChannel returns the channel of provider events: READY after a
// recovery, STALE when Redis is lost, CONFIGURATION_CHANGED listing the
// changed flag keys. It is never closed.
func (p *Provider) EventChannel() <-chan of.Event { return p.events }

func (p *Provider) emit(t of.EventType, msg string, flags []string) {
	e := of.Event{ProviderName: Name, EventType: t, ProviderEventDetails: of.ProviderEventDetails{Message: msg, FlagChanges: flags}}
	p.watchers.notify(p, t, flags)
	select {
	case p.events <- e:
	default:
		// Nobody has read 256 events: the SDK is not listening. Dropping
		// keeps the refresher from blocking; the snapshot is still current.
		p.cfg.logger.Warn("redisflags: event dropped, nobody is reading the event channel", "event", t)
	}
}
