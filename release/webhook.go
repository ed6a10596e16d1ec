package release

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redisflags/redisflags/store"
)

// Webhook headers.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256>" of
	// "<t>.<body>" under the webhook's secret; see [Verify].
	HeaderSignature = "X-Redisflags-Signature"
	// HeaderEventID carries the event's id (the outbox stream ID): a
	// receiver drops a delivery whose id it has seen (a retry after a lost
	// answer), and ids increase in delivery order.
	HeaderEventID = "X-Redisflags-Event-Id"
	// HeaderEventType carries the event's type.
	HeaderEventType = "X-Redisflags-Event"
)

// Formats of a webhook's body.
const (
	// FormatJSON posts the [store.Event] as JSON (the default).
	FormatJSON = "json"
	// FormatSlack posts {"text": "…"}, which Slack's incoming webhooks
	// (and Mattermost's, and Discord's /slack endpoint) show as a message.
	FormatSlack = "slack"
)

// Secret is a webhook signing secret. It prints as "[redacted]" in every
// format, so that logging a Webhook never shows it.
type Secret string

// String returns "[redacted]".
func (Secret) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (Secret) GoString() string { return "[redacted]" }

// Format prints "[redacted]" whatever the verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, "[redacted]") }

// MarshalJSON writes "[redacted]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// Webhook is one receiver of events.
type Webhook struct {
	// Name identifies the webhook's cursor in Redis (letters, digits, '.',
	// '_', '-'); renaming it delivers everything kept again.
	Name string
	// URL is where events are POSTed. It may hold a token (Slack's
	// incoming webhooks do), so it is never logged or put in an error.
	URL string
	// Secret signs every delivery; empty sends no signature header.
	Secret Secret
	// Format is FormatJSON (default) or FormatSlack.
	Format string
}

// Sign returns the signature header value of body at t under secret.
func Sign(secret Secret, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret Secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by [Verify] for a signature that does not
// match, is malformed, or is older than the tolerance.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Verify checks a signature header against body, with secret, at now: the
// HMAC must match (compared in constant time) and its timestamp be within
// tolerance of now (replays of old deliveries fail).
func Verify(secret Secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: malformed header", ErrBadSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is outside the tolerance", ErrBadSignature, ts)
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return fmt.Errorf("%w: HMAC mismatch", ErrBadSignature)
	}
	return nil
}

// Dispatcher delivers the store's outbox to webhooks: for each webhook one
// replica at a time (a lease in Redis) posts the events in outbox order —
// so in order per flag — retrying a failed delivery with exponential
// backoff until it succeeds, and only then moves the webhook's cursor. A
// write never waits for it. A delivery is repeated only when the receiver
// took it but its answer was lost (or the replica died before moving the
// cursor); the repeat has the same event id. Close stops every goroutine.
type Dispatcher struct {
	st    *store.Store
	hooks []Webhook
	cfg   dispConfig

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type dispConfig struct {
	client     *http.Client
	poll       time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	lease      time.Duration
	logger     *slog.Logger
	owner      string
	now        func() time.Time
}

// DispatcherOption configures a Dispatcher.
type DispatcherOption func(*dispConfig)

// WithHTTPClient sets the client deliveries use. Default: a client with a
// 10 s timeout.
func WithHTTPClient(c *http.Client) DispatcherOption {
	return func(d *dispConfig) {
		if c != nil {
			d.client = c
		}
	}
}

// WithBackoff sets the first and the longest wait between retries of a
// failed delivery. Default: 200 ms doubling up to 5 s, so a receiver back
// from an outage gets the backlog within 5 s.
func WithBackoff(first, longest time.Duration) DispatcherOption {
	return func(d *dispConfig) {
		if first > 0 && longest >= first {
			d.minBackoff, d.maxBackoff = first, longest
		}
	}
}

// WithDispatcherLogger sets the logger. Default: discard. Secrets are
// never logged.
func WithDispatcherLogger(l *slog.Logger) DispatcherOption {
	return func(d *dispConfig) {
		if l != nil {
			d.logger = l
		}
	}
}

// NewDispatcher returns a stopped Dispatcher of hooks (copied) over st, whose
// store should have store.WithOutbox on (else there is nothing to send).
func NewDispatcher(st *store.Store, hooks []Webhook, opts ...DispatcherOption) *Dispatcher {
	var b [6]byte
	_, _ = rand.Read(b[:])
	c := dispConfig{client: &http.Client{Timeout: 10 * time.Second}, poll: 200 * time.Millisecond,
		minBackoff: 200 * time.Millisecond, maxBackoff: 5 * time.Second, lease: 15 * time.Second,
		logger: slog.New(slog.DiscardHandler), owner: hex.EncodeToString(b[:]), now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	return &Dispatcher{st: st, hooks: append([]Webhook(nil), hooks...), cfg: c}
}

// Start starts one goroutine per webhook; a second Start does nothing.
func (d *Dispatcher) Start() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	for _, h := range d.hooks {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.run(ctx, h)
		}()
	}
}

// Close stops the dispatcher, gives its leases up and waits; it may be
// called twice.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	cancel := d.cancel
	d.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	d.wg.Wait()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (d *Dispatcher) run(ctx context.Context, h Webhook) {
	lease := "webhook:" + h.Name
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = d.st.ReleaseLease(ctx, lease, d.cfg.owner)
	}()
	for ctx.Err() == nil {
		held, err := d.st.Lease(ctx, lease, d.cfg.owner, d.cfg.lease)
		if err != nil || !held {
			sleep(ctx, d.cfg.poll*5)
			continue
		}
		n, err := d.drain(ctx, h, lease)
		if err != nil && ctx.Err() == nil {
			d.cfg.logger.Warn("redisflags webhooks: draining", "webhook", h.Name, "err", err)
		}
		if n == 0 {
			sleep(ctx, d.cfg.poll)
		}
	}
}

// drain delivers what is after the cursor, in order; it returns how many
// it delivered.
func (d *Dispatcher) drain(ctx context.Context, h Webhook, lease string) (int, error) {
	cursor, err := d.st.OutboxCursor(ctx, h.Name)
	if err != nil {
		return 0, err
	}
	events, err := d.st.ReadOutbox(ctx, cursor, 100)
	if err != nil {
		return 0, err
	}
	for i, ev := range events {
		backoff := d.cfg.minBackoff
		for {
			err := d.deliver(ctx, h, ev)
			if err == nil {
				break
			}
			d.cfg.logger.Info("redisflags webhooks: delivery failed, retrying", "webhook", h.Name, "event", ev.ID, "err", err, "in", backoff)
			if !sleep(ctx, backoff) {
				return i, ctx.Err()
			}
			backoff = min(backoff*2, d.cfg.maxBackoff)
			if held, err := d.st.Lease(ctx, lease, d.cfg.owner, d.cfg.lease); err != nil || !held {
				return i, err
			}
		}
		if err := d.st.AdvanceOutboxCursor(ctx, h.Name, d.cfg.owner, ev.ID); err != nil {
			return i, err
		}
	}
	return len(events), nil
}

// Body returns what a webhook of format posts for ev.
func Body(format string, ev store.Event) []byte {
	if format == FormatSlack {
		text := fmt.Sprintf("redisflags: %s %s by %s", ev.Type, ev.Flag, ev.Actor)
		if ev.Version > 0 {
			text += fmt.Sprintf(" (version %d)", ev.Version)
		}
		if ev.Note != "" {
			text += ": " + ev.Note
		}
		b, _ := json.Marshal(map[string]string{"text": text})
		return b
	}
	b, _ := json.Marshal(ev)
	return b
}

func (d *Dispatcher) deliver(ctx context.Context, h Webhook, ev store.Event) error {
	body := Body(h.Format, ev)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "redisflags-webhooks")
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderEventType, ev.Type)
	if h.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(h.Secret, d.cfg.now(), body))
	}
	resp, err := d.cfg.client.Do(req)
	if err != nil {
		// A webhook URL may hold a token (Slack's do): never in an error.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook %q: %w", h.Name, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %q answered %s", h.Name, resp.Status)
	}
	return nil
}
