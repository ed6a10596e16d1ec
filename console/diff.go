package console

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// change is one difference between two definitions, by field path.
type change struct {
	Path string
	Kind string // "added", "removed" or "changed"
	Old  string
	New  string
}

// maxLeaf bounds how much of one value a diff shows.
const maxLeaf = 300

// diffJSON compares two definitions in their JSON form field by field
// ("environments.production.rolloutPercent: 5 → 25"), leaving out the
// bookkeeping fields the store sets on every write (updatedAt, version).
// Arrays of plain values (allowlists) compare as one field. Either side
// may be JSON null or empty (a create or a delete).
func diffJSON(before, after []byte) []change {
	a, b := map[string]string{}, map[string]string{}
	flatten("", decodeAny(before), a)
	flatten("", decodeAny(after), b)
	var out []change
	for p, old := range a {
		nw, ok := b[p]
		switch {
		case !ok:
			out = append(out, change{Path: p, Kind: "removed", Old: old})
		case nw != old:
			out = append(out, change{Path: p, Kind: "changed", Old: old, New: nw})
		}
	}
	for p, nw := range b {
		if _, ok := a[p]; !ok {
			out = append(out, change{Path: p, Kind: "added", New: nw})
		}
	}
	slices.SortFunc(out, func(x, y change) int { return strings.Compare(x.Path, y.Path) })
	return out
}

func decodeAny(b []byte) any {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	return v
}

func flatten(path string, v any, out map[string]string) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch t := v.(type) {
	case nil:
		if path != "" {
			out[path] = "null"
		}
	case map[string]any:
		for k, x := range t {
			if k == "updatedAt" || (path == "" && k == "version") {
				continue
			}
			flatten(join(k), x, out)
		}
	case []any:
		plain := true
		for _, x := range t {
			switch x.(type) {
			case map[string]any, []any:
				plain = false
			}
		}
		if plain {
			out[path] = leaf(t)
			return
		}
		for i, x := range t {
			flatten(join(strconv.Itoa(i)), x, out)
		}
	default:
		out[path] = leaf(t)
	}
}

func leaf(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > maxLeaf {
		s = strings.ToValidUTF8(s[:maxLeaf], "") + "…"
	}
	return s
}
