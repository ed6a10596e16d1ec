package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	of "github.com/open-feature/go-sdk/openfeature"

	"github.com/redisflags/redisflags/evaluator"
)

// answer is what the provider decides for one flag and one context, as
// the evaluate panel shows it: provider.Resolve's fields, unchanged.
type answer struct {
	Flag        string          `json:"flag"`
	Value       json.RawMessage `json:"value"`
	Variant     string          `json:"variant"`
	Reason      string          `json:"reason"`
	ErrorCode   string          `json:"errorCode,omitempty"`
	ErrorDetail string          `json:"errorMessage,omitempty"`
	// Step is the deciding step (the tutorial's reason names).
	Step string `json:"step,omitempty"`
	// Bucket is the subject's bucket under the flag's own bucketing
	// (Scheme); -1 when there is none.
	Bucket   int            `json:"bucket"`
	Scheme   string         `json:"scheme,omitempty"`
	Kind     string         `json:"kind,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	// Payload is a tutorial flag's payload in the environment, served or
	// not (what K:payload serves when the flag is on).
	Payload json.RawMessage `json:"payload,omitempty"`
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

// evaluate answers the panel's query with provider.Resolve: value,
// variant, reason, error, metadata, the deciding step and the bucket, all
// as the provider decides them (the console computes none of them).
func (c *Console) evaluate(r *http.Request, q evalQuery) (answer, error) {
	fc, err := q.context()
	if err != nil {
		return answer{}, err
	}
	if !evaluator.ValidName(q.Flag) {
		return answer{}, &fieldError{"flag", fmt.Sprintf("%q is not a flag key", q.Flag)}
	}
	res := c.prov.Resolve(r.Context(), q.Flag, fc)
	x := res.Explanation
	a := answer{Flag: q.Flag, Value: res.Value, Variant: res.Variant, Reason: string(res.Reason),
		ErrorCode: string(res.ErrorCode), ErrorDetail: res.ErrorMessage, Step: x.Outcome,
		Bucket: x.Bucket, Scheme: x.Scheme, Kind: string(x.Kind), Metadata: res.Metadata, Payload: x.Payload}
	if a.Value == nil {
		a.Value = json.RawMessage("null") // the caller's default
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
