package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"

	"github.com/redisflags/redisflags/evaluator"
)

// This file is the OpenFeature Remote Evaluation Protocol (OFREP):
//
//	POST /ofrep/v1/evaluate/flags/{key}   one flag   → 200 | 400 | 404 | 500
//	POST /ofrep/v1/evaluate/flags         every flag → 200 with ETag | 304 | 400 | 500
//
// with the request body {"context": {…}}. The context maps onto an
// evaluation as the provider maps an OpenFeature context (docs/design.md §5):
// subject = "targetingKey", else "key", else the "key" of the "user" kind
// of a LaunchDarkly multi-context; region = "region" (top level or in that
// kind); "environment" overrides the server's environment.
//
// OFREP requests say nothing of the type the caller wants, so each flag
// answers with one value of its own type:
//   - a tutorial flag whose environment has no payload is a boolean flag:
//     value true (variant "on") or false (variant "off");
//   - one with a payload serves the payload as it is stored — string,
//     number, object, array or boolean — when on; when off it answers with
//     no value at all, which OFREP providers read as "use the code's default"
//     (OFREP ADR 0006), the same as the Go provider's typed resolutions.
//
// A flag with a payload asked for as a boolean thus gets TYPE_MISMATCH from
// the client's provider: over OFREP, use payload-less flags as switches.

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

// OpenFeature error codes and reasons used here.
const (
	codeFlagNotFound        = "FLAG_NOT_FOUND"
	codeParseError          = "PARSE_ERROR"
	codeTargetingKeyMissing = "TARGETING_KEY_MISSING"
	codeInvalidContext      = "INVALID_CONTEXT"
	codeGeneral             = "GENERAL"

	reasonDisabled       = "DISABLED"
	reasonDefault        = "DEFAULT"
	reasonTargetingMatch = "TARGETING_MATCH"
	reasonSplit          = "SPLIT"
	reasonStatic         = "STATIC"
)

var (
	jsonTrue  = json.RawMessage("true")
	jsonFalse = json.RawMessage("false")
)

// readContext decodes the request body and maps its context. An error is
// an INVALID_CONTEXT message naming the attribute.
func (s *Server) readContext(body []byte) (evaluator.Input, error) {
	in := evaluator.Input{Environment: s.environment}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return in, nil
	}
	var req struct {
		Context json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return in, fmt.Errorf("request body is not a JSON object with a context: %v", err)
	}
	if len(req.Context) == 0 || string(req.Context) == "null" {
		return in, nil
	}
	var c map[string]any
	if err := json.Unmarshal(req.Context, &c); err != nil {
		return in, fmt.Errorf("context must be a JSON object")
	}
	in.Attributes = evaluator.MapAttributes(c) // for variant flags' rules
	var err error
	str := func(m map[string]any, name, path string) string {
		v, ok := m[name]
		if !ok || v == nil || err != nil {
			return ""
		}
		text, ok := v.(string)
		if !ok {
			err = fmt.Errorf("context attribute %s must be a string, got %s", path, jsonKind(v))
		}
		return text
	}
	in.Subject = str(c, "targetingKey", "targetingKey")
	if in.Subject == "" {
		in.Subject = str(c, "key", "key")
	}
	in.Region = str(c, "region", "region")
	if env := str(c, "environment", "environment"); env != "" {
		in.Environment = env
	}
	if kind, _ := c["kind"].(string); kind == "multi" && (in.Subject == "" || in.Region == "") {
		if raw, ok := c["user"]; ok {
			user, ok := raw.(map[string]any)
			if !ok {
				return in, fmt.Errorf("context attribute user must be an object (a context of kind user), got %s", jsonKind(raw))
			}
			if in.Subject == "" {
				in.Subject = str(user, "key", "user.key")
			}
			if in.Region == "" {
				in.Region = str(user, "region", "user.region")
			}
		}
	}
	return in, err
}

func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "null"
}

// evaluateOFREP evaluates one flag of the set (docs/design.md §4).
func evaluateOFREP(set *flagSet, key string, in evaluator.Input) ofrepResult {
	e, ok := set.flags[key]
	if !ok {
		return ofrepResult{Key: key, ErrorCode: codeFlagNotFound, ErrorDetails: fmt.Sprintf("flag %q is not in Redis", key)}
	}
	if e.err != nil {
		return ofrepResult{Key: key, ErrorCode: codeParseError, ErrorDetails: e.err.Error()}
	}
	r, env := e.compiled.EvaluateEnv(in)
	switch r.Err {
	case evaluator.NoError:
	case evaluator.SubjectMissing, evaluator.AttributeMissing:
		return ofrepResult{Key: key, ErrorCode: codeTargetingKeyMissing, ErrorDetails: fmt.Sprintf(
			"flag %q buckets by subject (or its split's bucketBy attribute) in %q and needs it", key, in.Environment)}
	default:
		return ofrepResult{Key: key, ErrorCode: codeGeneral, ErrorDetails: fmt.Sprintf("flag %q could not be evaluated", key)}
	}
	if e.compiled.IsVariantFlag() {
		return variantOFREP(key, e.compiled, r)
	}
	res := ofrepResult{Key: key, Variant: "off"}
	if r.On {
		res.Variant = "on"
	}
	switch r.Outcome {
	case evaluator.FlagDisabled, evaluator.EnvironmentDisabled:
		res.Reason = reasonDisabled
	case evaluator.EnvironmentMissing:
		res.Reason = reasonDefault
	case evaluator.AllowlistUser, evaluator.AllowlistRegion:
		res.Reason = reasonTargetingMatch
	case evaluator.RolloutHit, evaluator.RolloutMiss:
		res.Reason = reasonDefault
		if r.Percent > 0 && r.Percent < 100 {
			res.Reason = reasonSplit
		}
	}
	var payload *evaluator.Payload
	if env != nil {
		res.Metadata = env.Metadata(r.Outcome)
		payload = env.Payload()
	} else {
		res.Metadata = e.compiled.Metadata(in.Environment, r.Outcome)
	}
	switch {
	case payload == nil || payload.Kind == evaluator.KindNone:
		// A switch: the boolean is the value, on or off.
		res.Value = jsonFalse
		if r.On {
			res.Value = jsonTrue
		}
	case r.On:
		res.Value = payload.Raw
	default:
		// Off with a payload: no value, the caller's default applies.
	}
	return res
}

// variantOFREP answers for a variant flag: its served variant's value (none
// when disabled without an off variant) and the reasons the provider gives.
func variantOFREP(key string, c *evaluator.Compiled, r evaluator.Result) ofrepResult {
	res := ofrepResult{Key: key, Variant: r.Variant, Metadata: c.FlagMetadata()}
	switch r.Outcome {
	case evaluator.FlagDisabled, evaluator.EnvironmentDisabled:
		res.Reason = reasonDisabled
	case evaluator.Static:
		res.Reason = reasonStatic
	case evaluator.RuleMatch:
		res.Reason = reasonTargetingMatch
	case evaluator.SplitServed:
		res.Reason = reasonSplit
	default:
		res.Reason = reasonDefault
	}
	if r.Value != nil {
		res.Value = r.Value.Raw
	}
	return res
}

// ofrepSingle is POST /ofrep/v1/evaluate/flags/{key}.
func (s *Server) ofrepSingle(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	in, err := s.readContext(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ofrepResult{Key: key, ErrorCode: codeInvalidContext, ErrorDetails: err.Error()})
		return
	}
	set := s.flags.get()
	if set == nil {
		writeJSON(w, http.StatusInternalServerError, ofrepFailure{ErrorCode: codeGeneral, ErrorDetails: "flags are not loaded yet: Redis has not answered"})
		return
	}
	res := evaluateOFREP(set, key, in)
	switch res.ErrorCode {
	case "":
		writeJSON(w, http.StatusOK, res)
	case codeFlagNotFound:
		writeJSON(w, http.StatusNotFound, res)
	default:
		writeJSON(w, http.StatusBadRequest, res)
	}
}

// ofrepBulk is POST /ofrep/v1/evaluate/flags: every flag, failures included
// as items. The ETag is a hash of the stored flags and the request body, so
// it changes when either does; If-None-Match with it answers 304 without
// evaluating.
func (s *Server) ofrepBulk(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	in, err := s.readContext(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ofrepFailure{ErrorCode: codeInvalidContext, ErrorDetails: err.Error()})
		return
	}
	set := s.flags.get()
	if set == nil {
		writeJSON(w, http.StatusInternalServerError, ofrepFailure{ErrorCode: codeGeneral, ErrorDetails: "flags are not loaded yet: Redis has not answered"})
		return
	}
	tag := bulkETag(set, body)
	w.Header().Set("ETag", tag)
	if noneMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	out := struct {
		Flags []ofrepResult `json:"flags"`
	}{Flags: make([]ofrepResult, 0, len(set.keys))}
	for _, k := range set.keys {
		out.Flags = append(out.Flags, evaluateOFREP(set, k, in))
	}
	writeJSON(w, http.StatusOK, out)
}

// bulkETag hashes the flag set's tag and the request body (the whole
// context: variant flags' rules may read any attribute): equal tags mean
// equal answers.
func bulkETag(set *flagSet, body []byte) string {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatUint(set.tag, 16)))
	h.Write([]byte{0})
	h.Write(bytes.TrimSpace(body))
	return `"` + strconv.FormatUint(h.Sum64(), 16) + `"`
}
