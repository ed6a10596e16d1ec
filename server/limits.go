package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Defaults of the public routes' bounds (see WithLimits).
const (
	// DefaultMaxInFlight is how many public requests (OFREP and the
	// tutorial's /api/flags routes) are served at once; more get 429.
	DefaultMaxInFlight = 64
	// DefaultMaxContextBytes is the largest OFREP request body (an
	// evaluation context) accepted; larger gets 413.
	DefaultMaxContextBytes = 64 << 10
)

// Limits bounds what public requests may cost, so that no unauthenticated
// caller can exhaust the server's memory or CPU: before them, 50 concurrent
// OFREP requests with a 780 KB context took the process from 20 MB to 994 MB
// of RSS.
type Limits struct {
	// MaxInFlight is how many public requests run at once; the next ones
	// get 429 Too Many Requests with Retry-After: 1 at once, without their
	// body being read. Default DefaultMaxInFlight; negative: no bound.
	MaxInFlight int
	// MaxContextBytes is the largest OFREP request body; larger gets 413
	// before it is read whole. Default DefaultMaxContextBytes; negative: the
	// 1 MiB every route has.
	MaxContextBytes int64
}

// WithLimits sets the public routes' bounds; zero fields keep their
// defaults. The admin routes keep their 1 MiB body limit and need the
// admin token.
func WithLimits(l Limits) Option { return func(c *config) { c.limits = l } }

func (l Limits) withDefaults() Limits {
	if l.MaxInFlight == 0 {
		l.MaxInFlight = DefaultMaxInFlight
	}
	if l.MaxContextBytes == 0 {
		l.MaxContextBytes = DefaultMaxContextBytes
	}
	if l.MaxContextBytes < 0 || l.MaxContextBytes > maxBody {
		l.MaxContextBytes = maxBody
	}
	return l
}

// limiter is the middleware of Limits. Every handler of one Server shares
// its slots.
type limiter struct {
	slots    chan struct{} // nil: no bound
	maxOFREP int64
}

func newLimiter(l Limits) *limiter {
	l = l.withDefaults()
	h := &limiter{maxOFREP: l.MaxContextBytes}
	if l.MaxInFlight > 0 {
		h.slots = make(chan struct{}, l.MaxInFlight)
	}
	return h
}

// wrap returns next bounded by the limits.
func (h *limiter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.serve(next, w, r) })
}

// limitedKey marks a request the limiter has seen: Handler mounts OFREP,
// which is wrapped too, and a request must take one slot, not two.
type limitedKey struct{}

func (h *limiter) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if r.Context().Value(limitedKey{}) != nil {
		next.ServeHTTP(w, r)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), limitedKey{}, true))
	// The OFREP evaluations (POST); the change stream (GET) is long-lived
	// and bounded by its own stream limit.
	ofrep := r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/ofrep/")
	public := ofrep || strings.HasPrefix(r.URL.Path, "/api/flags/")
	if !public {
		next.ServeHTTP(w, r)
		return
	}
	if ofrep {
		if r.ContentLength > h.maxOFREP {
			writeError(w, http.StatusRequestEntityTooLarge, "request body is %d bytes; the limit for an evaluation context is %d", r.ContentLength, h.maxOFREP)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.maxOFREP)
	}
	if h.slots != nil {
		select {
		case h.slots <- struct{}{}:
			defer func() { <-h.slots }()
		default:
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "%s", fmt.Sprintf("more than %s public requests at once; retry in a second", strconv.Itoa(cap(h.slots))))
			return
		}
	}
	next.ServeHTTP(w, r)
}
