package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// answer is what the provider decides for one flag and one context, as
// the evaluate panel shows it.
type answer struct {
	Flag        string         `json:"flag"`
	Value       any            `json:"value"`
	Variant     string         `json:"variant"`
	Reason      string         `json:"reason"`
	ErrorCode   string         `json:"errorCode,omitempty"`
	ErrorDetail string         `json:"errorMessage,omitempty"`
	Step        string         `json:"step,omitempty"`
	Metadata    map[string]any `json:"metadata,omitempty"`
	// Payload is, for a tutorial flag whose environment has one, the
	// payload resolution: what ObjectEvaluation (or the typed method of the
	// payload's type) returns for the same context.
	Payload *answer `json:"payload,omitempty"`
	// Type is the typed method asked: boolean, string, number or object.
	Type string `json:"type"`
}

// evalQuery is the panel's input.
type evalQuery struct {
	Flag, Environment, Subject, Region, Attributes string
}

const maxAttributes = 64 << 10

// context builds the evaluation context as an application would: the
// subject as targeting key, region and environment as attributes, then the
// typed attributes (JSON object) beside them.
func (q evalQuery) context() (of.FlattenedContext, error) {
	fc := of.FlattenedContext{}
	if a := strings.TrimSpace(q.Attributes); a != "" {
		if len(a) > maxAttributes {
			return nil, &fieldError{"attributes", fmt.Sprintf("larger than %d bytes", maxAttributes)}
		}
		d := json.NewDecoder(strings.NewReader(a))
		var m map[string]any
		if err := d.Decode(&m); err != nil || m == nil {
			return nil, &fieldError{"attributes", "must be a JSON object, such as {\"plan\": \"pro\"}"}
		}
		for k, v := range m {
			fc[k] = v
		}
	}
	if q.Subject != "" {
		fc[of.TargetingKey] = q.Subject
	}
	if q.Region != "" {
		fc["region"] = q.Region
	}
	if q.Environment != "" {
		fc["environment"] = q.Environment
	}
	return fc, nil
}

// kindOf is the typed method an application would call for a JSON value.
func kindOf(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "boolean"
	}
	switch b[0] {
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '{', '[':
		return "object"
	case 'n':
		return "object"
	}
	return "number"
}

// ask runs one typed resolution on the provider: the one evaluation path.
func (c *Console) ask(r *http.Request, flag, kind string, fc of.FlattenedContext) answer {
	ctx := r.Context()
	a := answer{Flag: flag, Type: kind}
	var d of.ProviderResolutionDetail
	switch kind {
	case "boolean":
		res := c.prov.BooleanEvaluation(ctx, flag, false, fc)
		a.Value, d = res.Value, res.ProviderResolutionDetail
	case "string":
		res := c.prov.StringEvaluation(ctx, flag, "", fc)
		a.Value, d = res.Value, res.ProviderResolutionDetail
	case "number":
		res := c.prov.FloatEvaluation(ctx, flag, 0, fc)
		a.Value, d = res.Value, res.ProviderResolutionDetail
	default:
		res := c.prov.ObjectEvaluation(ctx, flag, nil, fc)
		a.Value, d = res.Value, res.ProviderResolutionDetail
	}
	a.Variant, a.Reason, a.Metadata = d.Variant, string(d.Reason), d.FlagMetadata
	if d.ResolutionError != (of.ResolutionError{}) {
		a.ErrorCode, a.ErrorDetail = resolutionError(d.ResolutionError)
	}
	if s, ok := d.FlagMetadata["evaluationReason"].(string); ok {
		a.Step = s
	}
	return a
}

// resolutionError splits go-sdk's "CODE: message".
func resolutionError(e of.ResolutionError) (string, string) {
	s := e.Error()
	code, msg, ok := strings.Cut(s, ": ")
	if !ok {
		return s, ""
	}
	return code, msg
}

// evaluate answers the panel's query through the provider. The definition
// is read only to choose the typed method, as the application's code
// would: a variant flag by its default variant's value, a tutorial flag as
// a boolean switch and, when its environment has a payload, also for the
// payload in the payload's type.
func (c *Console) evaluate(r *http.Request, q evalQuery) (answer, error) {
	fc, err := q.context()
	if err != nil {
		return answer{}, err
	}
	if !evaluator.ValidName(q.Flag) {
		return answer{}, &fieldError{"flag", fmt.Sprintf("%q is not a flag key", q.Flag)}
	}
	kind := "boolean"
	var payloadKind string
	f, err := c.store.Get(r.Context(), q.Flag)
	switch {
	case err == nil && f.IsVariantFlag():
		kind = kindOf(f.Variants[f.DefaultVariant])
	case err == nil:
		env := q.Environment
		if env == "" {
			env = c.cfg.environment
		}
		if e, ok := f.Environments[env]; ok && e.HasValue() {
			payloadKind = kindOf(e.Value)
		}
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrCorrupt):
		// The provider answers FLAG_NOT_FOUND or PARSE_ERROR itself.
	default:
		return answer{}, err
	}
	a := c.ask(r, q.Flag, kind, fc)
	if payloadKind != "" {
		p := c.ask(r, q.Flag, payloadKind, fc)
		a.Payload = &p
	}
	return a, nil
}

func queryOf(r *http.Request, def string) evalQuery {
	v := r.URL.Query()
	q := evalQuery{Flag: strings.TrimSpace(v.Get("flag")), Environment: strings.TrimSpace(v.Get("environment")),
		Subject: v.Get("subject"), Region: strings.TrimSpace(v.Get("region")), Attributes: v.Get("attributes")}
	if q.Environment == "" {
		q.Environment = def
	}
	return q
}

type evaluateData struct {
	Query  evalQuery
	Flags  []string
	Answer *answer
	JSON   string
	Envs   []string
}

// maxFlagChoices bounds the flag list the panel offers (a datalist).
const maxFlagChoices = 2000

func (c *Console) evaluatePage(w http.ResponseWriter, r *http.Request, id *identity) {
	q := queryOf(r, c.cfg.environment)
	d := evaluateData{Query: q}
	if keys, err := c.keys(r.Context()); err == nil {
		d.Flags = keys[:min(len(keys), maxFlagChoices)]
	}
	p := page{Title: "Who gets what", Nav: "evaluate", ID: id, Problems: map[string]string{}}
	if q.Flag != "" {
		if f, err := c.store.Get(r.Context(), q.Flag); err == nil {
			d.Envs = f.EnvironmentNames()
		}
		a, err := c.evaluate(r, q)
		if err != nil {
			p.Error = describe(err, p.Problems)
		} else {
			d.Answer = &a
			b, _ := json.MarshalIndent(a, "", "  ")
			d.JSON = string(b)
		}
	}
	if !slices.Contains(d.Envs, q.Environment) && q.Environment != "" {
		d.Envs = append(d.Envs, q.Environment)
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "evaluate", p)
}

// evaluateJSON is GET /evaluate.json: the panel's answer as JSON, for its
// script (the form works without it).
func (c *Console) evaluateJSON(w http.ResponseWriter, r *http.Request, _ *identity) {
	a, err := c.evaluate(r, queryOf(r, c.cfg.environment))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		probs := map[string]string{}
		msg := describe(err, probs)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": msg, "problems": probs})
		return
	}
	_ = json.NewEncoder(w).Encode(a)
}
