package provider

import (
	"sync"

	of "github.com/open-feature/go-sdk/openfeature"
)

// Change is one notice from Watch: the provider's event, the flags it names
// and the snapshot's revision after it.
type Change struct {
	// Type is PROVIDER_CONFIGURATION_CHANGED (Flags lists the changed
	// keys), PROVIDER_STALE or PROVIDER_READY.
	Type of.EventType
	// Flags are the changed flag keys (configuration changes only).
	Flags []string
	// Revision is Revision() when the notice was sent.
	Revision string
}

// watchBuffer is how many notices a watcher may leave unread before the
// provider drops new ones for it.
const watchBuffer = 16

// watchers is the set of Watch subscribers. The zero value is ready.
type watchers struct {
	mu   sync.Mutex
	subs map[chan Change]struct{}
}

// Watch subscribes to the provider's notices: every event it emits (flag
// changes from change notices, keyspace notifications and resyncs; STALE
// when Redis is lost; READY when it is back), whether or not the provider
// is registered with the OpenFeature SDK. Call stop to unsubscribe; it
// closes the channel and may be called more than once.
//
// Sends never block the provider: a watcher that leaves 16 notices unread
// misses the next ones. As each notice means "read again", a watcher that
// reads again after every notice it receives still sees the latest state:
// a notice is only dropped while unread ones are queued before it.
func (p *Provider) Watch() (changes <-chan Change, stop func()) {
	ch := make(chan Change, watchBuffer)
	w := &p.watchers
	w.mu.Lock()
	if w.subs == nil {
		w.subs = map[chan Change]struct{}{}
	}
	w.subs[ch] = struct{}{}
	w.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			w.mu.Lock()
			delete(w.subs, ch)
			w.mu.Unlock()
			close(ch)
		})
	}
}

// notify sends a notice to every watcher, never blocking.
func (w *watchers) notify(p *Provider, t of.EventType, flags []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.subs) == 0 {
		return
	}
	c := Change{Type: t, Flags: flags, Revision: p.Revision()}
	for ch := range w.subs {
		select {
		case ch <- c:
		default:
		}
	}
}
