package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/provider"
)

// maxStreams bounds the live streams open at once; more get 503.
const maxStreams = 1000

// hub fans the provider's change events out to the open streams. A slow
// stream misses events rather than slowing the others (the page reloads
// its content on any event, so one it gets is as good as many).
type hub struct {
	mu      sync.Mutex
	subs    map[chan []string]struct{}
	closed  bool
	closing chan struct{}
}

func newHub() *hub { return &hub{subs: map[chan []string]struct{}{}, closing: make(chan struct{})} }

func (h *hub) subscribe() (chan []string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || len(h.subs) >= maxStreams {
		return nil, false
	}
	ch := make(chan []string, 8)
	h.subs[ch] = struct{}{}
	return ch, true
}

func (h *hub) unsubscribe(ch chan []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, ch)
}

func (h *hub) publish(flags []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs {
		select {
		case ch <- flags:
		default:
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.closing)
	}
}

// relay follows the provider's changes (provider.Watch, which does not
// compete with the SDK for its event channel) until Close: a configuration
// change is told to every stream after the provider's snapshot has it, so a
// page that reloads on the event sees the new answers.
func (c *Console) relay(changes <-chan provider.Change) {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case ch, ok := <-changes:
			if !ok {
				return
			}
			if ch.Type == of.ProviderConfigChange {
				c.index.invalidate()
				c.live.publish(ch.Flags)
			}
		}
	}
}

// events is GET /events: a server-sent event stream with one "change"
// event ({"flags": [...]}) per configuration change, and a comment every
// 25 s to keep proxies from closing it.
func (c *Console) events(w http.ResponseWriter, r *http.Request, _ *identity) {
	// Through the ResponseController, so that wrappers that Unwrap (the
	// server's request log) still flush.
	rc := http.NewResponseController(w)
	ch, ok := c.live.subscribe()
	if !ok {
		http.Error(w, "too many live streams", http.StatusServiceUnavailable)
		return
	}
	defer c.live.unsubscribe(ch)
	// The server's WriteTimeout would end the stream; keep it open.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	_ = rc.Flush()
	tick := time.NewTicker(25 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.live.closing:
			return
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			_ = rc.Flush()
		case flags := <-ch:
			if flags == nil {
				flags = []string{}
			}
			b, _ := json.Marshal(map[string]any{"flags": flags})
			fmt.Fprintf(w, "event: change\ndata: %s\n\n", b)
			_ = rc.Flush()
		}
	}
}
