package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/provider"
)

// This file is the OpenFeature Remote Evaluation Protocol (OFREP):
//
//	POST /ofrep/v1/evaluate/flags/{key}   one flag   → 200 | 400 | 404 | 500
//	POST /ofrep/v1/evaluate/flags         every flag → 200 with ETag | 304 | 400 | 500
//
// with the request body {"context": {…}}. Every answer is the provider's
// (provider.Resolve): the same context mapping (docs/design.md §5), reasons,
// prerequisites and errors as the Go provider's typed methods, from the
// same kind of snapshot. OFREP requests say nothing of the type the caller
// wants, so (docs/design.md §8):
//   - a tutorial flag K is a switch: value true or false, whatever its
//     payload; its payload is served under the companion key K:payload;
//   - a variant flag (LaunchDarkly's included) serves its variant's value;
//   - "use the caller's default" (K:payload when K is off or has no
//     payload; a variant flag disabled without an off variant) is a
//     success with no value and Go's reason, which OFREP defines as "use
//     the code's default" (open-feature/protocol#46): the web provider
//     returns the default with that reason; the server-side npm provider
//     0.1.x, which needs a value, returns the default with a GENERAL error.
//
// Bulk answers carry every flag and, for each tutorial flag K (and each
// flag that does not parse), K:payload;
// a flag that cannot be evaluated for this context (a bad attribute, a
// parse error) is an item with its own error code, never a failure of the
// whole request: a web client then keeps no previous user's values.

// ofrepResult is an evaluation success or failure, in the OFREP shapes.
type ofrepResult struct {
	Key          string          `json:"key"`
	Value        json.RawMessage `json:"value,omitempty"`
	Reason       string          `json:"reason,omitempty"`
	Variant      string          `json:"variant,omitempty"`
	Metadata     map[string]any  `json:"metadata,omitempty"`
	ErrorCode    string          `json:"errorCode,omitempty"`
	ErrorDetails string          `json:"errorDetails,omitempty"`
}

// ofrepFailure is a request-level failure (bulk 400, any 500).
type ofrepFailure struct {
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorDetails string `json:"errorDetails"`
}

// readContext decodes the request body into an evaluation context. An
// error is an INVALID_CONTEXT message: the body is not {"context": {…}}.
// Attributes of the wrong type are not errors here: they fail only the
// flags that read them (per-flag INVALID_CONTEXT).
func readContext(body []byte) (of.FlattenedContext, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return of.FlattenedContext{}, nil
	}
	var req struct {
		Context json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("request body is not a JSON object with a context: %v", err)
	}
	if len(req.Context) == 0 || string(req.Context) == "null" {
		return of.FlattenedContext{}, nil
	}
	var c map[string]any
	if err := json.Unmarshal(req.Context, &c); err != nil {
		return nil, fmt.Errorf("context must be a JSON object")
	}
	return of.FlattenedContext(c), nil
}

// toOFREP shapes a resolution.
func toOFREP(r provider.Resolution) ofrepResult {
	if r.ErrorCode != "" {
		return ofrepResult{Key: r.Key, ErrorCode: string(r.ErrorCode), ErrorDetails: r.ErrorMessage}
	}
	return ofrepResult{Key: r.Key, Value: r.Value, Reason: string(r.Reason), Variant: r.Variant, Metadata: r.Metadata}
}

// ofrepSingle is POST /ofrep/v1/evaluate/flags/{key}.
func (s *Server) ofrepSingle(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	fc, err := readContext(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ofrepResult{Key: key, ErrorCode: string(of.InvalidContextCode), ErrorDetails: err.Error()})
		return
	}
	if !s.Loaded() {
		writeNotLoaded(w)
		return
	}
	res := toOFREP(s.resolve(r.Context(), s.live, key, fc))
	switch of.ErrorCode(res.ErrorCode) {
	case "":
		writeJSON(w, http.StatusOK, res)
	case of.FlagNotFoundCode:
		writeJSON(w, http.StatusNotFound, res)
	case of.ProviderNotReadyCode, of.GeneralCode:
		writeJSON(w, http.StatusInternalServerError, res)
	default:
		writeJSON(w, http.StatusBadRequest, res)
	}
}

func writeNotLoaded(w http.ResponseWriter) {
	writeJSON(w, http.StatusInternalServerError, ofrepFailure{ErrorCode: string(of.GeneralCode), ErrorDetails: "flags are not loaded yet: Redis has not answered"})
}

// ofrepBulk is POST /ofrep/v1/evaluate/flags: every flag, failures included
// as items. The ETag hashes the provider's revision and the request body,
// so it changes when either does; If-None-Match with it answers 304 without
// evaluating.
func (s *Server) ofrepBulk(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	fc, err := readContext(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ofrepFailure{ErrorCode: string(of.InvalidContextCode), ErrorDetails: err.Error()})
		return
	}
	keys, rev := s.live.Keys()
	if rev == "" {
		writeNotLoaded(w)
		return
	}
	tag := bulkETag(rev, body)
	w.Header().Set("ETag", tag)
	if noneMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	out := bulkResponse{Flags: make([]ofrepResult, 0, 2*len(keys)), EventStreams: s.eventStreams(r)}
	for _, k := range keys {
		out.Flags = append(out.Flags, toOFREP(s.resolve(r.Context(), s.live, k.Name, fc)))
		// A flag that does not parse may be a tutorial flag: its payload
		// key is an item too (PARSE_ERROR, as Go answers it), not missing.
		if k.Kind == provider.KindTutorial || k.Kind == "" {
			out.Flags = append(out.Flags, toOFREP(s.resolve(r.Context(), s.live, k.Name+provider.PayloadSuffix, fc)))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// bulkResponse is the bulk evaluation's body.
type bulkResponse struct {
	Flags []ofrepResult `json:"flags"`
	// EventStreams tells clients where to hear of changes (OFREP ADR-0008);
	// absent when the change stream is off.
	EventStreams []eventStream `json:"eventStreams,omitempty"`
}

// bulkETag hashes the revision and the request body (the whole context:
// variant flags' rules may read any attribute): equal tags mean equal
// answers.
func bulkETag(revision string, body []byte) string {
	h := fnv.New64a()
	h.Write([]byte(revision))
	h.Write([]byte{0})
	h.Write(bytes.TrimSpace(body))
	return `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
}
