package release

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

type actorKey struct{}

// ContextWithActor returns ctx carrying the authenticated person's name,
// for the [Handler] (the server's authentication middleware calls it).
func ContextWithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFromContext returns the actor ContextWithActor put in ctx.
func ActorFromContext(ctx context.Context) (string, bool) {
	a, ok := ctx.Value(actorKey{}).(string)
	return a, ok && a != ""
}

// HandlerOption configures a Handler.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	actor   func(*http.Request) (string, bool)
	maxBody int64
}

// WithActorFunc sets how the handler learns who makes a request. Default:
// [ActorFromContext] of the request's context. Never take it from a
// header the client controls unless something in front authenticates it.
func WithActorFunc(f func(*http.Request) (string, bool)) HandlerOption {
	return func(c *handlerConfig) {
		if f != nil {
			c.actor = f
		}
	}
}

// MaxBodyBytes bounds every request body the handler reads.
const MaxBodyBytes = 1 << 20

// NewHandler returns the release API over svc, with paths relative to
// where it is mounted (strip the mount prefix):
//
//	GET    /schedules[?flag=K]             pending scheduled changes
//	POST   /schedules                      schedule one (store.ScheduledChange: flag, at, op, definition|patch)
//	GET    /schedules/{id}                 one, pending or finished
//	DELETE /schedules/{id}                 cancel it
//	PUT    /flags/{key}                    write a flag under the approval policy: 200 applied, 202 request
//	DELETE /flags/{key}                    delete under the policy: 200 deleted, 202 request
//	GET    /requests[?flag=K]              pending change requests (with before, after, digest)
//	POST   /requests                       propose {"op","flag","after","comment"}
//	GET    /requests/{id}                  one
//	POST   /requests/{id}/approve          {"digest"}: apply it (never by its author); 409 when stale
//	POST   /requests/{id}/reject           {"comment"}
//	POST   /requests/{id}/cancel           withdraw it
//	GET    /policies                       every environment's policy
//	PUT    /policies/{env}                 {"requireApproval","emergencyOff"}
//	PUT    /rollouts/{flag}/{env}          start or replace a rollout (evaluator.Rollout)
//	POST   /rollouts/{flag}/{env}/pause    pause; /resume; /rollback {"percent"}
//	GET    /expired                        flags past their kill date
//
// Every request needs an actor (see [WithActorFunc]); without one it is
// answered 401. Errors are JSON {"error": "..."}; a validation error adds
// {"problems": [{"field","message"}]}.
func NewHandler(svc *Service, opts ...HandlerOption) http.Handler {
	c := handlerConfig{actor: func(r *http.Request) (string, bool) { return ActorFromContext(r.Context()) }, maxBody: MaxBodyBytes}
	for _, o := range opts {
		o(&c)
	}
	h := &handler{svc: svc, st: svc.Store(), cfg: c}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /schedules", h.listSchedules)
	mux.HandleFunc("POST /schedules", h.addSchedule)
	mux.HandleFunc("GET /schedules/{id}", h.getSchedule)
	mux.HandleFunc("DELETE /schedules/{id}", h.cancelSchedule)
	mux.HandleFunc("PUT /flags/{key}", h.writeFlag)
	mux.HandleFunc("DELETE /flags/{key}", h.deleteFlag)
	mux.HandleFunc("GET /requests", h.listRequests)
	mux.HandleFunc("POST /requests", h.createRequest)
	mux.HandleFunc("GET /requests/{id}", h.getRequest)
	mux.HandleFunc("POST /requests/{id}/{action}", h.decideRequest)
	mux.HandleFunc("GET /policies", h.getPolicies)
	mux.HandleFunc("PUT /policies/{env}", h.setPolicy)
	mux.HandleFunc("PUT /rollouts/{flag}/{env}", h.setRollout)
	mux.HandleFunc("POST /rollouts/{flag}/{env}/{action}", h.rolloutAction)
	mux.HandleFunc("GET /expired", h.expired)
	return h.withActor(mux)
}

type handler struct {
	svc *Service
	st  *store.Store
	cfg handlerConfig
}

type actorCtx struct{}

func (h *handler) withActor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, ok := h.cfg.actor(r)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "the release API needs an authenticated actor"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, h.cfg.maxBody)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorCtx{}, actor)))
	})
}

func actorOf(r *http.Request) string { a, _ := r.Context().Value(actorCtx{}).(string); return a }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErr maps the package's and the store's errors onto statuses.
func writeErr(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	body := map[string]any{"error": err.Error()}
	var ve *evaluator.ValidationError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ve):
		status = http.StatusBadRequest
		body["problems"] = ve.Problems
	case errors.As(err, &mbe):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, errBadBody):
		status = http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrUnknown), errors.Is(err, ErrNoRollout):
		status = http.StatusNotFound
	case errors.Is(err, store.ErrSelfApproval):
		status = http.StatusForbidden
	case errors.Is(err, store.ErrStale), errors.Is(err, store.ErrNotPending), errors.Is(err, store.ErrVersionMismatch),
		errors.Is(err, store.ErrDigestMismatch), errors.Is(err, store.ErrConflict):
		status = http.StatusConflict
	case errors.Is(err, store.ErrTooMany):
		status = http.StatusTooManyRequests
	default:
		// Redis or another internal failure: do not echo details.
		body["error"] = "internal error"
	}
	writeJSON(w, status, body)
}

var errBadBody = errors.New("request body is not the JSON expected")

func decode(r *http.Request, dst any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errors.Join(errBadBody, err)
	}
	return nil
}

func (h *handler) listSchedules(w http.ResponseWriter, r *http.Request) {
	list, err := h.st.ListScheduled(r.Context(), r.URL.Query().Get("flag"))
	reply(w, http.StatusOK, list, err)
}

func (h *handler) addSchedule(w http.ResponseWriter, r *http.Request) {
	var c store.ScheduledChange
	if err := decode(r, &c); err != nil {
		writeErr(w, err)
		return
	}
	out, err := h.svc.Schedule(r.Context(), actorOf(r), c)
	reply(w, http.StatusCreated, out, err)
}

func (h *handler) getSchedule(w http.ResponseWriter, r *http.Request) {
	c, err := h.st.GetScheduled(r.Context(), r.PathValue("id"))
	reply(w, http.StatusOK, c, err)
}

func (h *handler) cancelSchedule(w http.ResponseWriter, r *http.Request) {
	if err := h.st.CancelScheduled(r.Context(), r.PathValue("id"), actorOf(r)); err != nil {
		writeErr(w, err)
		return
	}
	h.getSchedule(w, r)
}

func (h *handler) writeFlag(w http.ResponseWriter, r *http.Request) {
	body, err := readAll(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	f, err := evaluator.ParseFlag(body, r.PathValue("key"))
	if err != nil {
		writeErr(w, err)
		return
	}
	res, err := h.svc.Write(r.Context(), actorOf(r), f)
	if err != nil {
		writeErr(w, err)
		return
	}
	status := http.StatusOK
	if res.Request != nil {
		status = http.StatusAccepted
	}
	writeJSON(w, status, res)
}

func readAll(r *http.Request) ([]byte, error) {
	var raw json.RawMessage
	if err := decode(r, &raw); err != nil {
		return nil, err
	}
	return raw, nil
}

func (h *handler) deleteFlag(w http.ResponseWriter, r *http.Request) {
	res, err := h.svc.Delete(r.Context(), actorOf(r), r.PathValue("key"))
	if err != nil {
		writeErr(w, err)
		return
	}
	status := http.StatusOK
	if res.Request != nil {
		status = http.StatusAccepted
	}
	writeJSON(w, status, res)
}

func (h *handler) listRequests(w http.ResponseWriter, r *http.Request) {
	list, err := h.st.ListRequests(r.Context(), r.URL.Query().Get("flag"))
	reply(w, http.StatusOK, list, err)
}

func (h *handler) createRequest(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Op      string          `json:"op"`
		Flag    string          `json:"flag"`
		After   json.RawMessage `json:"after"`
		Comment string          `json:"comment"`
	}
	if err := decode(r, &body); err != nil {
		writeErr(w, err)
		return
	}
	req := store.Request{Op: body.Op, Flag: body.Flag, Comment: body.Comment, Author: actorOf(r)}
	if body.Op == store.OpUpsert {
		f, err := evaluator.ParseFlag(body.After, body.Flag)
		if err != nil {
			writeErr(w, err)
			return
		}
		req.After, req.Flag = &f, f.Key
	}
	out, err := h.st.CreateRequest(r.Context(), req)
	reply(w, http.StatusCreated, out, err)
}

func (h *handler) getRequest(w http.ResponseWriter, r *http.Request) {
	req, err := h.st.GetRequest(r.Context(), r.PathValue("id"))
	reply(w, http.StatusOK, req, err)
}

func (h *handler) decideRequest(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Digest  string `json:"digest"`
		Comment string `json:"comment"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &body); err != nil {
			writeErr(w, err)
			return
		}
	}
	id, actor := r.PathValue("id"), actorOf(r)
	var err error
	switch r.PathValue("action") {
	case "approve":
		_, err = h.svc.Approve(r.Context(), actor, id, body.Digest)
	case "reject":
		err = h.st.RejectRequest(r.Context(), id, actor, body.Comment)
	case "cancel":
		err = h.st.CancelRequest(r.Context(), id, actor)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	h.getRequest(w, r)
}

func (h *handler) getPolicies(w http.ResponseWriter, r *http.Request) {
	p, err := h.st.Policies(r.Context())
	reply(w, http.StatusOK, p, err)
}

func (h *handler) setPolicy(w http.ResponseWriter, r *http.Request) {
	var p store.Policy
	if err := decode(r, &p); err != nil {
		writeErr(w, err)
		return
	}
	if err := h.st.SetPolicy(r.Context(), r.PathValue("env"), p); err != nil {
		writeErr(w, &evaluator.ValidationError{Problems: []evaluator.FieldError{{Field: "environment", Message: err.Error()}}})
		return
	}
	h.getPolicies(w, r)
}

func (h *handler) setRollout(w http.ResponseWriter, r *http.Request) {
	body, err := readAll(r)
	if err != nil {
		writeErr(w, err)
		return
	}
	ro, err := evaluator.ParseRollout(body)
	if err != nil {
		var ve *evaluator.ValidationError
		if !errors.As(err, &ve) {
			err = errors.Join(errBadBody, err)
		}
		writeErr(w, err)
		return
	}
	f, err := SetRollout(r.Context(), h.st, r.PathValue("flag"), r.PathValue("env"), actorOf(r), *ro, h.svc.now())
	reply(w, http.StatusOK, f, err)
}

func (h *handler) rolloutAction(w http.ResponseWriter, r *http.Request) {
	flag, env, actor, now := r.PathValue("flag"), r.PathValue("env"), actorOf(r), h.svc.now()
	var f evaluator.Flag
	var err error
	switch r.PathValue("action") {
	case "pause":
		f, err = Pause(r.Context(), h.st, flag, env, actor, now)
	case "resume":
		f, err = Resume(r.Context(), h.st, flag, env, actor, now)
	case "rollback":
		var body struct {
			Percent int `json:"percent"`
		}
		if r.ContentLength != 0 {
			if err := decode(r, &body); err != nil {
				writeErr(w, err)
				return
			}
		}
		if body.Percent < 0 || body.Percent > 100 {
			writeErr(w, &evaluator.ValidationError{Flag: flag, Problems: []evaluator.FieldError{{Field: "percent", Message: "must be an integer from 0 to 100, got " + strconv.Itoa(body.Percent)}}})
			return
		}
		f, err = Rollback(r.Context(), h.st, flag, env, actor, body.Percent)
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

func (h *handler) expired(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.Expired(r.Context())
	reply(w, http.StatusOK, list, err)
}

// reply answers with v as JSON under status, or with err's error response
// when the call that made v failed: the one ending of every handler.
func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, status, v)
}
