package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/internal/maputil"
)

// ErrCorrupt is wrapped by every *DecodeError: stored data that does not
// parse.
var ErrCorrupt = errors.New("stored flag data does not parse")

// DecodeError says which stored field of which flag does not parse. It wraps
// ErrCorrupt.
type DecodeError struct {
	// Flag is the flag key.
	Flag string
	// Field names the field, such as "environments.production.rolloutPercent".
	Field string
	// Value is the stored text (shortened to 64 bytes).
	Value string
	// Reason says what is wrong with it.
	Reason string
}

// Error names the flag, the stored field, its value and what is wrong.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("flag %q: stored field %s = %q: %s", e.Flag, e.Field, e.Value, e.Reason)
}

// Unwrap returns ErrCorrupt.
func (e *DecodeError) Unwrap() error { return ErrCorrupt }

func decodeError(flag, field, value, reason string) *DecodeError {
	if len(value) > 64 {
		value = value[:64] + "…"
	}
	return &DecodeError{Flag: flag, Field: field, Value: value, Reason: reason}
}

// rawFlag is a flag as read from Redis, before decoding.
type rawFlag struct {
	key  string
	hash map[string]string
	envs map[string]rawEnv
}

type rawEnv struct {
	hash    map[string]string
	users   []string
	regions []string
	// largeUsers, largeRegions: the member count of an allowlist left in
	// Redis (above the large-set threshold); 0 when it was read.
	largeUsers, largeRegions int64
}

// decodeBool reads "true"/"false"; a missing field is false, as in the
// tutorial. Anything else is an error: a flag stored as "yes" is not silently
// off.
func decodeBool(flag, field, v string, present bool) (bool, error) {
	if !present {
		return false, nil
	}
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, decodeError(flag, field, v, `must be "true" or "false"`)
}

// decodePercent reads rolloutPercent as decimal text 0–100; missing is 0.
func decodePercent(flag, field, v string, present bool) (int, error) {
	if !present {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > 100 {
		return 0, decodeError(flag, field, v, "must be an integer from 0 to 100")
	}
	return n, nil
}

// decodeVersion reads the optional version counter this project adds.
func decodeVersion(flag, v string, present bool) (int64, error) {
	if !present {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, decodeError(flag, "version", v, "must be a non-negative integer")
	}
	return n, nil
}

// decodeValue reads the payload: JSON text; missing, empty or "null" means
// none.
func decodeValue(flag, field, v string, present bool) (json.RawMessage, error) {
	if !present || v == "" || v == "null" {
		return nil, nil
	}
	if !json.Valid([]byte(v)) {
		return nil, decodeError(flag, field, v, "is not valid JSON")
	}
	return json.RawMessage(v), nil
}

// decode turns what was read from Redis into a definition. It never panics on
// any stored bytes (FuzzDecode checks).
func (r rawFlag) decode() (evaluator.Flag, error) {
	f, _, err := r.decodeEnvs(false)
	return f, err
}

// partial decodes the flag leaving out the environments whose fields do
// not parse; it returns nil when something else fails too.
func (r rawFlag) partial() (*evaluator.Flag, map[string]error) {
	f, envErrs, err := r.decodeEnvs(true)
	if err != nil || len(envErrs) == 0 {
		return nil, nil
	}
	return &f, envErrs
}

// decodeEnvs is decode; with tolerant, an environment whose fields do not
// parse is left out and its error returned in envErrs instead.
func (r rawFlag) decodeEnvs(tolerant bool) (evaluator.Flag, map[string]error, error) {
	var envErrs map[string]error
	f := evaluator.Flag{
		Key:          r.key,
		Description:  r.hash["description"],
		UpdatedAt:    r.hash["updatedAt"],
		Environments: make(map[string]evaluator.Environment, len(r.envs)),
	}
	var err error
	d, ok := r.hash["defaultEnabled"]
	if f.DefaultEnabled, err = decodeBool(r.key, "defaultEnabled", d, ok); err != nil {
		return evaluator.Flag{}, nil, err
	}
	v, ok := r.hash["version"]
	if f.Version, err = decodeVersion(r.key, v, ok); err != nil {
		return evaluator.Flag{}, nil, err
	}
	if err := decodeRich(r.key, r.hash, &f); err != nil {
		return evaluator.Flag{}, nil, err
	}
	for _, name := range sortedKeys(r.envs) {
		re := r.envs[name]
		var env evaluator.Environment
		var e string
		var ok bool
		if !evaluator.ValidName(name) {
			// No caller can ask for this environment (names are checked
			// first), and direct mode never reads it: in tolerant mode it
			// is this environment's problem only, as in direct mode.
			err = decodeError(r.key, "environments."+name, name, "is not a valid environment name")
		} else {
			// The fields' paths are named only in an error (atField): a
			// load decodes every field of every flag.
			e, ok = re.hash["enabled"]
			env.Enabled, err = decodeBool(r.key, "", e, ok)
			err = atField(err, name, ".enabled")
		}
		if err == nil {
			p, ok := re.hash["rolloutPercent"]
			env.RolloutPercent, err = decodePercent(r.key, "", p, ok)
			err = atField(err, name, ".rolloutPercent")
		}
		if err == nil {
			val, ok := re.hash["value"]
			env.Value, err = decodeValue(r.key, "", val, ok)
			err = atField(err, name, ".value")
		}
		if err == nil {
			ro, ok := re.hash["rollout"]
			env.Rollout, err = decodeRollout(r.key, "", ro, ok)
			err = atField(err, name, ".rollout")
		}
		if err != nil {
			if !tolerant {
				return evaluator.Flag{}, nil, err
			}
			if envErrs == nil {
				envErrs = map[string]error{}
			}
			envErrs[name] = err
			continue
		}
		env.UpdatedAt = re.hash["updatedAt"]
		env.AllowlistUsers = sortedNonEmpty(re.users)
		env.AllowlistRegions = sortedNonEmpty(re.regions)
		env.LargeUsers, env.LargeRegions = re.largeUsers, re.largeRegions
		f.Environments[name] = env
	}
	if err := evaluator.Validate(f); err != nil {
		// Reachable through data no writer of this project produces: a key
		// that is not a valid name, or a rule, split or variant written by
		// hand that does not make sense. Report it as corrupt, naming the
		// first field at fault.
		field, msg := "flagKey", err.Error()
		var ve *evaluator.ValidationError
		if errors.As(err, &ve) && len(ve.Problems) > 0 {
			field, msg = ve.Problems[0].Field, ve.Problems[0].Message
		}
		top := field
		if i := strings.IndexAny(field, ".["); i > 0 {
			top = field[:i]
		}
		return evaluator.Flag{}, nil, decodeError(r.key, field, r.hash[top], msg)
	}
	return f, envErrs, nil
}

// sortedKeys returns m's keys sorted (maputil.SortedKeys).
func sortedKeys[V any](m map[string]V) []string { return maputil.SortedKeys(m) }

// atField names the field of environment env a *DecodeError made without
// one is about ("environments.<env><leaf>").
func atField(err error, env, leaf string) error {
	if de, ok := err.(*DecodeError); ok && de.Field == "" {
		de.Field = "environments." + env + leaf
	}
	return err
}

// sortedNonEmpty returns the members sorted, without the empty string (an
// empty subject never matches, as no evaluation has one).
func sortedNonEmpty(members []string) []string {
	if len(members) == 0 {
		return nil
	}
	out := make([]string, 0, len(members))
	for _, m := range members {
		if m != "" {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// fingerprint is a hash of everything stored for the flag, used to tell
// whether a flag changed between two loads without comparing definitions.
// It is FNV-1a (64 bits) of the fields, members and separators below,
// written out so that it allocates nothing: the load fingerprints every
// flag.
func (r rawFlag) fingerprint() uint64 {
	h := fnv64a(fnvOffset)
	var scratch [16]string
	names := scratch[:0]
	writeHash := func(m map[string]string) {
		names = names[:0]
		for k := range m {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			h.str(k)
			h.byte(0)
			h.str(m[k])
			h.byte(0)
		}
		h.byte(1)
	}
	writeSet := func(s []string) {
		names = append(names[:0], s...)
		slices.Sort(names)
		for _, m := range names {
			h.str(m)
			h.byte(0)
		}
		h.byte(2)
	}
	writeHash(r.hash)
	var num [20]byte
	for _, name := range sortedKeys(r.envs) {
		e := r.envs[name]
		h.str(name)
		h.byte(3)
		writeHash(e.hash)
		writeSet(e.users)
		writeSet(e.regions)
		// A large set is fingerprinted by its size only: its members are
		// asked live, so a change of members needs no new snapshot.
		h.bytes(strconv.AppendInt(num[:0], e.largeUsers, 10))
		h.byte(0)
		h.bytes(strconv.AppendInt(num[:0], e.largeRegions, 10))
	}
	return uint64(h)
}

// fnv64a is the state of an FNV-1a hash, as hash/fnv's New64a computes it.
type fnv64a uint64

const (
	fnvOffset fnv64a = 14695981039346656037
	fnvPrime  fnv64a = 1099511628211
)

func (h *fnv64a) byte(c byte) { *h = (*h ^ fnv64a(c)) * fnvPrime }

func (h *fnv64a) str(s string) {
	for i := 0; i < len(s); i++ {
		h.byte(s[i])
	}
}

func (h *fnv64a) bytes(b []byte) {
	for _, c := range b {
		h.byte(c)
	}
}

// wrongTypeError is the DecodeError of a flag one of whose Redis keys holds
// another kind of value than the layout says (a WRONGTYPE reply): the flag
// fails to parse, alone, and the error names the key. It returns nil when err
// is not a WRONGTYPE reply.
func wrongTypeError(flag, field, key, want string, err error) error {
	if !isWrongType(err) {
		return nil
	}
	return &DecodeError{Flag: flag, Field: field, Value: key, Reason: "the Redis key holds another type of value (WRONGTYPE): it must be a " + want}
}

// errorFingerprint fingerprints a record that failed, so that a change of
// the failure is a change of the flag.
func errorFingerprint(err error) uint64 {
	h := fnv.New64a()
	h.Write([]byte(err.Error()))
	return h.Sum64()
}
