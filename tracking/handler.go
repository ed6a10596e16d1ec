// Package tracking is the HTTP route through which OFREP clients (which
// have no Redis) send OpenFeature tracking events: POST a JSON body of
// events and they join the same queue, and the same Redis stream, as the Go
// provider's Track.
//
//	q := provider.NewEventQueue(rdb)          // or p.Events() of a running provider
//	q.Start()
//	defer q.Stop(context.Background())
//	mux.Handle("POST /ofrep/v1/track", tracking.Handler(q))
//
// The body (at most 64 KiB, at most 100 events):
//
//	{"events": [{"key": "checkout", "context": {"targetingKey": "user-1"},
//	             "value": 42.5, "attributes": {"currency": "EUR"}}]}
//
// The answer is 202 with {"accepted": N, "dropped": M} (dropped: the queue
// was full), or 400 naming the event and the field that is wrong, in which
// case nothing is queued. OFREP defines no tracking route yet; this one sits
// beside its evaluation routes.
package tracking

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/redisflags/redisflags/store"
)

// Bounds of one request.
const (
	MaxBody       = 64 << 10
	MaxEvents     = 100
	MaxNameLength = 128
	MaxAttributes = 32
)

// Queue is where events go: *provider.EventQueue.
type Queue interface {
	Enqueue(store.TrackedEvent) bool
}

// Event is one tracking event of a request.
type Event struct {
	// Key is the tracking event's name (OpenFeature's "occurrence key").
	Key string `json:"key"`
	// Context is the evaluation context; its targetingKey (or "key") is the
	// subject.
	Context map[string]any `json:"context"`
	// Value is the occurrence details' value.
	Value float64 `json:"value"`
	// Attributes are the occurrence details' other fields.
	Attributes map[string]any `json:"attributes"`
}

// Request is the route's body.
type Request struct {
	Events []Event `json:"events"`
}

// Response is the route's answer.
type Response struct {
	Accepted int `json:"accepted"`
	Dropped  int `json:"dropped"`
}

// Decode reads and checks a request body: every error names the event (by
// index) and the field, and a request with any error is refused whole.
func Decode(r io.Reader) ([]store.TrackedEvent, error) {
	dec := json.NewDecoder(io.LimitReader(r, MaxBody+1))
	var req Request
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("body: not a JSON object of events: %w", err)
	}
	if dec.More() {
		return nil, errors.New("body: one JSON object expected")
	}
	if len(req.Events) == 0 {
		return nil, errors.New("events: none given")
	}
	if len(req.Events) > MaxEvents {
		return nil, fmt.Errorf("events: %d given, at most %d per request", len(req.Events), MaxEvents)
	}
	out := make([]store.TrackedEvent, 0, len(req.Events))
	for i, e := range req.Events {
		at := func(field string) string { return fmt.Sprintf("events[%d].%s", i, field) }
		switch {
		case e.Key == "":
			return nil, fmt.Errorf("%s: missing", at("key"))
		case len(e.Key) > MaxNameLength || !utf8.ValidString(e.Key) || strings.ContainsAny(e.Key, "\x00\r\n"):
			return nil, fmt.Errorf("%s: at most %d characters of printable text", at("key"), MaxNameLength)
		case len(e.Attributes) > MaxAttributes:
			return nil, fmt.Errorf("%s: %d given, at most %d", at("attributes"), len(e.Attributes), MaxAttributes)
		}
		subject, _ := e.Context["targetingKey"].(string)
		if subject == "" {
			subject, _ = e.Context["key"].(string)
		}
		if len(subject) > 1024 {
			return nil, fmt.Errorf("%s: longer than 1024 bytes", at("context.targetingKey"))
		}
		out = append(out, store.TrackedEvent{Kind: store.EventTrack, Name: e.Key, Subject: subject, Value: e.Value, Attributes: e.Attributes})
	}
	return out, nil
}

// Handler returns the route: decode, queue, answer. It never waits for
// Redis.
func Handler(q Queue) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBody {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": fmt.Sprintf("body: larger than %d bytes", MaxBody)})
			return
		}
		evs, err := Decode(http.MaxBytesReader(w, r.Body, MaxBody))
		if err != nil {
			status := http.StatusBadRequest
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				status = http.StatusRequestEntityTooLarge
			}
			writeJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		var resp Response
		for _, e := range evs {
			if q.Enqueue(e) {
				resp.Accepted++
			} else {
				resp.Dropped++
			}
		}
		writeJSON(w, http.StatusAccepted, resp)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
