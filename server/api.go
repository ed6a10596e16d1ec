package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/provider"
	"github.com/redisflags/redisflags/store"
)

// problem is one thing wrong with a request, naming the field.
type problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// apiError is the body of every 4xx and 5xx of the tutorial's routes.
type apiError struct {
	Error    string    `json:"error"`
	Problems []problem `json:"problems,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // messages say <token>, not \u003ctoken\u003e
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"encoding the response failed"}` + "\n")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, apiError{Error: fmt.Sprintf(format, args...)})
}

// writeValidation answers 400 with every problem of a definition.
func writeValidation(w http.ResponseWriter, v *evaluator.ValidationError) {
	e := apiError{Error: v.Error()}
	for _, p := range v.Problems {
		e.Problems = append(e.Problems, problem{Field: p.Field, Message: p.Message})
	}
	writeJSON(w, http.StatusBadRequest, e)
}

// writeStoreError maps a store error onto a status.
func writeStoreError(w http.ResponseWriter, key string, err error) {
	var v *evaluator.ValidationError
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "flag %q not found", key)
	case errors.As(err, &v):
		writeValidation(w, v)
	case errors.Is(err, store.ErrVersionMismatch):
		writeError(w, http.StatusPreconditionFailed, "%v: read the flag again and retry", err)
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, "%v", err)
	case errors.Is(err, store.ErrCorrupt):
		writeError(w, http.StatusInternalServerError, "%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "flag %q: %v", key, err)
	default:
		writeError(w, http.StatusBadGateway, "flag %q: Redis: %v", key, err)
	}
}

// pathKey returns the {flagKey} of the URL, or answers 400 naming the
// problem.
func pathKey(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	key := r.PathValue(name)
	if !evaluator.ValidName(key) {
		msg := "may hold only letters, digits, '.', '_' and '-'"
		if len(key) > evaluator.MaxNameLength {
			msg = fmt.Sprintf("is %d characters long; the limit is %d", len(key), evaluator.MaxNameLength)
		}
		writeJSON(w, http.StatusBadRequest, apiError{
			Error:    fmt.Sprintf("flag key %q in the URL %s", shorten(key, 64), msg),
			Problems: []problem{{Field: "flagKey", Message: msg}},
		})
		return "", false
	}
	return key, true
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// readBody reads at most maxBody bytes, answering 413 above that.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > maxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "request body is %d bytes; the limit is %d (1 MiB)", r.ContentLength, maxBody)
		return nil, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body is larger than %d bytes (1 MiB)", maxBody)
		} else {
			writeError(w, http.StatusBadRequest, "reading the request body: %v", err)
		}
		return nil, false
	}
	return b, true
}

// etag is a flag's entity tag: its stored version, quoted.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch turns an If-Match header into write options. "*" needs the flag to
// exist; a tag that is not one of ours can never match (412).
func (s *Server) ifMatch(w http.ResponseWriter, r *http.Request, key string) ([]store.WriteOption, bool) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return nil, true
	}
	if h == "*" {
		if _, err := s.store.Get(r.Context(), key); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				writeError(w, http.StatusPreconditionFailed, "If-Match: * but flag %q does not exist", key)
			} else {
				writeStoreError(w, key, err)
			}
			return nil, false
		}
		return nil, true
	}
	if strings.Contains(h, ",") {
		writeError(w, http.StatusBadRequest, "If-Match: give one ETag (the flag's version), not a list")
		return nil, false
	}
	v, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || v < 0 || strings.HasPrefix(h, "W/") {
		writeError(w, http.StatusPreconditionFailed, "If-Match %s is not a version of flag %q", shorten(h, 40), key)
		return nil, false
	}
	return []store.WriteOption{store.IfVersion(v)}, true
}

// listFlags is GET /api/admin/flags: every definition, sorted by key, as
// the tutorial's bare JSON array. Stored flags that do not parse are left
// out, counted in the header X-Redisflags-Unparsed and logged each.
func (s *Server) listFlags(w http.ResponseWriter, r *http.Request) {
	flags, err := s.store.List(r.Context())
	if err != nil && !errors.Is(err, store.ErrCorrupt) {
		writeError(w, http.StatusBadGateway, "list flags: Redis: %v", err)
		return
	}
	if msgs := splitJoined(err); len(msgs) > 0 {
		w.Header().Set("X-Redisflags-Unparsed", strconv.Itoa(len(msgs)))
		for _, m := range msgs {
			s.log.WarnContext(r.Context(), "list flags: a stored flag does not parse; left out of the list", "err", m)
		}
	}
	out := make([]evaluator.Flag, 0, len(flags))
	for _, f := range flags {
		out = append(out, WireFlag(f))
	}
	writeJSON(w, http.StatusOK, out)
}

// putFlag is PUT /api/admin/flags/{flagKey}: create or replace the
// definition (the tutorial's JSON; a body naming no key takes the URL's),
// answering the definition as stored with its ETag.
func (s *Server) putFlag(w http.ResponseWriter, r *http.Request) {
	key, ok := pathKey(w, r, "flagKey")
	if !ok {
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	f, err := evaluator.ParseFlag(body, key)
	if err != nil {
		var v *evaluator.ValidationError
		if errors.As(err, &v) {
			writeValidation(w, v)
		} else {
			writeError(w, http.StatusBadRequest, "flag %q: %v", key, err)
		}
		return
	}
	opts, ok := s.ifMatch(w, r, key)
	if !ok {
		return
	}
	seen := s.awaitChange(key)
	if s.guarded(w, r, key, &f) {
		return
	}
	stored, err := s.store.Upsert(r.Context(), f, append(opts, store.Actor(actor(r)))...)
	if err != nil {
		seen(nil)
		writeStoreError(w, key, err)
		return
	}
	seen(r.Context())
	w.Header().Set("ETag", etag(stored.Version))
	writeJSON(w, http.StatusOK, WireFlag(stored))
}

// deleteFlag is DELETE /api/admin/flags/{flagKey}: 204, or 404.
func (s *Server) deleteFlag(w http.ResponseWriter, r *http.Request) {
	key, ok := pathKey(w, r, "flagKey")
	if !ok {
		return
	}
	opts, ok := s.ifMatch(w, r, key)
	if !ok {
		return
	}
	seen := s.awaitChange(key)
	if s.guarded(w, r, key, nil) {
		return
	}
	if err := s.store.Delete(r.Context(), key, append(opts, store.Actor(actor(r)))...); err != nil {
		seen(nil)
		writeStoreError(w, key, err)
		return
	}
	seen(r.Context())
	w.WriteHeader(http.StatusNoContent)
}

// getFlag is GET /api/flags/{flagKey}: the definition with its ETag (304
// when If-None-Match has it).
func (s *Server) getFlag(w http.ResponseWriter, r *http.Request) {
	key, ok := pathKey(w, r, "flagKey")
	if !ok {
		return
	}
	f, err := s.pub.Get(r.Context(), key)
	if err != nil {
		writeStoreError(w, key, err)
		return
	}
	tag := etag(f.Version)
	w.Header().Set("ETag", tag)
	if noneMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.writePublicFlag(w, r, f)
}

// noneMatch reports whether an If-None-Match header lists tag (weak
// comparison, as RFC 9110 asks for If-None-Match) or is "*".
func noneMatch(header, tag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == strings.TrimPrefix(tag, "W/") {
			return true
		}
	}
	return false
}

// evaluation is the tutorial's evaluate response.
type evaluation struct {
	FlagKey     string `json:"flagKey"`
	Environment string `json:"environment"`
	Subject     string `json:"subject"`
	Enabled     bool   `json:"enabled"`
	// Reason is the tutorial's reason name, such as "rollout-hit".
	Reason string `json:"reason"`
	// Bucket is the subject's rollout bucket (0–99), whatever step decided;
	// null when no subject was given.
	Bucket *int `json:"bucket"`
	// Value is the environment's payload when the flag is on, else null;
	// for a variant flag, the served variant's value.
	Value json.RawMessage `json:"value"`
	// Variant is the variant a variant flag served (absent for tutorial
	// flags, whose shape stays the tutorial's).
	Variant string `json:"variant,omitempty"`
}

// evaluate is GET /api/flags/{flagKey}/evaluate?environment=&subject=&region=.
// environment defaults to the server's (--environment, "production"). It
// resolves through the direct-reads provider: the same mapping, reasons,
// prerequisites and bucketing as every other edge, reading only the asked
// environment's keys from Redis (so a field that does not parse in another
// environment does not fail this one).
func (s *Server) evaluate(w http.ResponseWriter, r *http.Request) {
	key, ok := pathKey(w, r, "flagKey")
	if !ok {
		return
	}
	q := r.URL.Query()
	env, subject, region := q.Get("environment"), q.Get("subject"), q.Get("region")
	if env == "" {
		env = s.environment
	}
	if !evaluator.ValidName(env) {
		writeJSON(w, http.StatusBadRequest, apiError{
			Error:    fmt.Sprintf("environment %q is not a valid environment name", shorten(env, 64)),
			Problems: []problem{{Field: "environment", Message: "may hold only letters, digits, '.', '_' and '-' (1–128)"}},
		})
		return
	}
	fc := of.FlattenedContext{"environment": env}
	if subject != "" {
		fc[of.TargetingKey] = subject
	}
	if region != "" {
		fc["region"] = region
	}
	res := s.resolve(r.Context(), s.direct, key, fc)
	switch res.ErrorCode {
	case "":
	case of.FlagNotFoundCode:
		writeError(w, http.StatusNotFound, "flag %q not found", key)
		return
	case of.TargetingKeyMissingCode:
		writeJSON(w, http.StatusBadRequest, apiError{
			Error:    fmt.Sprintf("%s: the query parameter subject is required", res.ErrorMessage),
			Problems: []problem{{Field: "subject", Message: "is required for this flag in " + env}},
		})
		return
	case of.ParseErrorCode:
		writeError(w, http.StatusInternalServerError, "%s", res.ErrorMessage)
		return
	case of.InvalidContextCode:
		writeError(w, http.StatusBadRequest, "%s", res.ErrorMessage)
		return
	default:
		writeError(w, http.StatusBadGateway, "%s", res.ErrorMessage)
		return
	}
	x := res.Explanation
	out := evaluation{FlagKey: key, Environment: env, Subject: subject, Enabled: x.On, Reason: x.Outcome}
	if x.Bucket >= 0 && (subject != "" || x.Kind != provider.KindTutorial) {
		b := x.Bucket
		out.Bucket = &b
	}
	if x.Kind == provider.KindTutorial {
		if x.On && len(x.Payload) > 0 {
			out.Value = x.Payload
		}
	} else {
		out.Variant = res.Variant
		out.Value = res.Value
	}
	writeJSON(w, http.StatusOK, out)
}

// ready is GET /readyz: 200 when the provider is READY (flags loaded,
// Redis connected), 503 naming its state otherwise — within a moment of
// Redis going away, as the provider notices (PROVIDER_STALE).
//
// Anonymous callers (load balancers, anyone) learn only ready or not ready:
// the state and the reason need an admin token.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	st := s.live.State()
	if !s.isAdmin(r) {
		if st == of.ReadyState {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		} else {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
		}
		return
	}
	switch {
	case st == of.ReadyState:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	case !s.Loaded():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "state": string(st), "reason": "flags not loaded yet: Redis has not answered"})
	default:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "state": string(st), "reason": "Redis does not answer: serving the last flags loaded"})
	}
}

// statusWriter remembers the status and size of a response for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

// Unwrap lets http.ResponseController reach the connection (Flush and
// deadlines, which the change stream needs). Middleware that wraps the
// ResponseWriter must do the same.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// maxLoggedPath is the most of a request's path the request log keeps.
const maxLoggedPath = 256

// logRequests logs one structured line per request; paths longer than
// maxLoggedPath bytes are cut (a 60 KiB path must not become a 60 KiB log
// line, nor one in the --log-stream mirror).
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", shorten(r.URL.Path, maxLoggedPath)),
			slog.Int("status", sw.status),
			slog.Int("bytes", sw.bytes),
			slog.Float64("ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// guarded asks the write guard (WithWriteGuard) about an admin write and
// answers 409 when it refuses.
func (s *Server) guarded(w http.ResponseWriter, r *http.Request, key string, next *evaluator.Flag) bool {
	if s.cfg.writeGuard == nil {
		return false
	}
	if err := s.cfg.writeGuard(r.Context(), key, next); err != nil {
		writeError(w, http.StatusConflict, "flag %q: %v", key, err)
		return true
	}
	return false
}
