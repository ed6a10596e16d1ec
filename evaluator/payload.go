package evaluator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Kind is the JSON type of a payload.
type Kind uint8

// The payload kinds.
const (
	KindNone   Kind = iota // no payload, or JSON null
	KindBool               // true or false
	KindString             // a JSON string
	KindNumber             // a JSON number
	KindObject             // a JSON object
	KindArray              // a JSON array
)

var kindNames = [...]string{"none", "boolean", "string", "number", "object", "array"}

// String names the kind, such as "object".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Payload is a remote-config value decoded once, at compile time, into every
// form a typed resolution may ask for. It is immutable: Object must not be
// modified (use [Payload.ObjectCopy] to hand it to callers).
type Payload struct {
	Kind   Kind
	Raw    json.RawMessage
	Bool   bool
	String string
	Float  float64
	// Int is the number as an int64 and IsInt says whether the number is a
	// whole number within the int64 range.
	Int   int64
	IsInt bool
	// Object is the decoded object (map[string]any) or array ([]any), with
	// numbers as float64.
	Object any
}

// DecodePayload decodes a stored payload. Empty input and "null" give a
// payload of KindNone. Invalid JSON is an error.
func DecodePayload(raw []byte) (Payload, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return Payload{}, nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return Payload{}, fmt.Errorf("payload is not valid JSON: %w", err)
	}
	if dec.More() {
		return Payload{}, fmt.Errorf("payload is not valid JSON: trailing data")
	}
	p := Payload{Raw: json.RawMessage(bytes.Clone(trimmed))}
	switch x := v.(type) {
	case bool:
		p.Kind, p.Bool = KindBool, x
	case string:
		p.Kind, p.String = KindString, x
	case json.Number:
		p.Kind = KindNumber
		f, err := x.Float64()
		if err != nil {
			return Payload{}, fmt.Errorf("payload number %s: %w", x, err)
		}
		p.Float = f
		if i, err := x.Int64(); err == nil {
			p.Int, p.IsInt = i, true
		} else if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
			p.Int, p.IsInt = int64(f), true // 1e3, 2.0
		}
	case map[string]any:
		p.Kind, p.Object = KindObject, numbersToFloat(x)
	case []any:
		p.Kind, p.Object = KindArray, numbersToFloat(x)
	}
	return p, nil
}

// ObjectCopy returns a deep copy of Object, which the caller then owns.
func (p Payload) ObjectCopy() any { return deepCopy(p.Object) }

// numbersToFloat replaces json.Number (used while decoding to keep integer
// precision for Int) with float64, the type encoding/json gives callers.
func numbersToFloat(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbersToFloat(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = numbersToFloat(e)
		}
		return x
	default:
		return v
	}
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	default:
		return v
	}
}
