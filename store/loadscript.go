package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/redisflags/redisflags/evaluator"
)

// The batched load reads a batch of flags with one script (load.lua): one
// round trip per batch instead of two (the environment sets, then the rest),
// one command on the wire instead of ~11 per flag, and one reply, a
// MessagePack string, that is decoded here without a value per field. A
// script runs alone, so each flag is read from one moment as the MULTI/EXEC
// path reads it, and its environment set needs no second read.
//
// The script builds its keys from the prefix: on Redis Cluster that is
// allowed only when every key of the flag set hashes to one slot (a prefix
// with a hash tag, as Cluster needs for writes anyway); an untagged prefix on
// Cluster, any other client, and a server that refuses the script (an ACL
// without EVAL/EVALSHA, a server without Lua) use the pipelined path
// (loadBatchPipelined), as does a flag with a set too large for the script.

//go:embed load.lua
var loadLua string

var loadScript = redis.NewScript(loadLua)

const (
	// scriptSetCap is the most members of one set the script returns; a
	// flag with a larger set that is not left in Redis is read by the
	// pipelined path, so that the script's memory and run time stay small.
	scriptSetCap = 10_000
	// scriptBudget is the number of fields and members after which the
	// script stops and the rest of its batch is asked again, so that one
	// call does not hold the server (a script runs alone) nor build a
	// large reply: a batch of tutorial flags returns ~10,000.
	scriptBudget = 20_000
)

// LoadCost estimates the Redis commands, as INFO commandstats counts them
// (commands run by scripts included), that a load spends on one flag of
// envs environments with non-empty allowlists: with load.lua the
// environment set and the flag hash, and per environment its hash and a
// SCARD and an SMEMBERS per allowlist, plus the script's call per batch;
// pipelined, the environment set twice and the flag hash, and per
// environment its hash and per allowlist an SMEMBERS, or with a large-set
// threshold a script running SCARD and SMEMBERS, plus MULTI and EXEC per
// batch. TestLoadCostMatchesCommandstats measures both.
func (s *Store) LoadCost(envs int) float64 {
	size := float64(loadBatch)
	if s.batch > 0 {
		size = float64(s.batch)
	}
	e := float64(envs)
	if s.scriptable() {
		return 2 + 5*e + 1/size
	}
	perEnv := 3.0
	if s.large > 0 {
		perEnv = 7
	}
	return 3 + perEnv*e + 2/size
}

// scriptable reports whether loads may use load.lua.
func (s *Store) scriptable() bool {
	if s.noScript.Load() {
		return false
	}
	switch s.rdb.(type) {
	case *redis.Client:
		return true
	case *redis.ClusterClient:
		return hashTagged(s.keys.prefix)
	}
	return false
}

// hashTagged reports whether every key that starts with prefix hashes on a
// tag within prefix (Redis Cluster's rule: the text between the first '{'
// and the first '}' after it, when not empty).
func hashTagged(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(prefix[i+1:], '}')
	return j > 0
}

// loader holds what one goroutine of a load reuses from flag to flag: the
// maps a rawFlag is read into (decode keeps none of them) and the strings
// seen so far.
type loader struct {
	s       *Store
	known   Known
	raw     rawFlag
	hashes  []map[string]string
	names   []string
	members []string
	strs    map[string]string
	args    []any
}

func newLoader(s *Store, known Known) *loader {
	return &loader{
		s:     s,
		known: known,
		raw:   rawFlag{hash: map[string]string{}, envs: map[string]rawEnv{}},
		strs:  map[string]string{},
	}
}

// maxLoaderStrings bounds the loader's string table; past it the table
// starts again (it only saves allocations).
const maxLoaderStrings = 1 << 16

// str returns s as a string of its own (s is a part of the reply, which
// nothing may keep): the one seen before when s is short.
func (l *loader) str(s string) string {
	if len(s) > maxInternedString {
		return strings.Clone(s)
	}
	if t, ok := l.strs[s]; ok {
		return t
	}
	if len(l.strs) >= maxLoaderStrings {
		clear(l.strs)
	}
	t := strings.Clone(s)
	l.strs[t] = t
	return t
}

// maxInternedString: longer strings are rarely repeated.
const maxInternedString = 64

// loadBatch reads one batch, with the script when the server allows it.
func (s *Store) loadBatch(ctx context.Context, l *loader, flagKeys []string) ([]Record, error) {
	if !s.scriptable() {
		return s.loadBatchPipelined(ctx, flagKeys, l.known)
	}
	recs := make([]Record, len(flagKeys))
	var fallback []int
	for done := 0; done < len(flagKeys); {
		n, more, err := l.script(ctx, flagKeys[done:], recs[done:])
		if err != nil {
			var rerr redis.Error
			if done == 0 && errors.As(err, &rerr) && !isWrongType(err) {
				// The server refuses the script itself (no EVAL in the
				// ACL, no Lua, no cmsgpack): read the pipelined way from
				// now on.
				s.noScript.Store(true)
				return s.loadBatchPipelined(ctx, flagKeys, l.known)
			}
			return nil, fmt.Errorf("load flags: %w", err)
		}
		for _, i := range more {
			fallback = append(fallback, done+i)
		}
		done += n
	}
	if len(fallback) > 0 {
		keys := make([]string, len(fallback))
		for j, i := range fallback {
			keys[j] = flagKeys[i]
		}
		again, err := s.loadBatchPipelined(ctx, keys, l.known)
		if err != nil {
			return nil, err
		}
		for j, i := range fallback {
			recs[i] = again[j]
		}
	}
	return recs, nil
}

// script runs load.lua for flagKeys and fills recs for the flags it read:
// n of them (the script may stop early); more lists those (indexes) it
// left for the pipelined path.
func (l *loader) script(ctx context.Context, flagKeys []string, recs []Record) (n int, more []int, err error) {
	s := l.s
	l.args = append(l.args[:0], s.keys.prefix, s.large, scriptSetCap, scriptBudget)
	for _, k := range flagKeys {
		l.args = append(l.args, k)
	}
	reply, err := loadScript.Run(ctx, s.rdb, []string{s.keys.index()}, l.args...).Text()
	if err != nil {
		return 0, nil, err
	}
	d := mpReader{b: reply}
	count, err := d.array()
	if err != nil {
		return 0, nil, err
	}
	if count == 0 || count > len(flagKeys) {
		return 0, nil, fmt.Errorf("load script: %d flags in the reply for %d asked", count, len(flagKeys))
	}
	for i := range count {
		recs[i].Key = flagKeys[i]
		tooLarge, err := l.flag(&d, &recs[i])
		if err != nil {
			return 0, nil, fmt.Errorf("load script reply, flag %q: %w", flagKeys[i], err)
		}
		if tooLarge {
			more = append(more, i)
		}
	}
	return count, more, nil
}

// flag decodes one flag's entry of the reply into r.
func (l *loader) flag(d *mpReader, r *Record) (tooLarge bool, err error) {
	s := l.s
	key := r.Key
	if d.peekInt() {
		_, err := d.int()
		return err == nil, err
	}
	n, err := d.array()
	if err != nil {
		return false, err
	}
	// The environment set.
	if msg, isErr, err := d.errReply(); err != nil {
		return false, err
	} else if isErr {
		return false, errorsAsLoad(l.fail(r, "environments", s.keys.envs(key), "set", msg))
	}
	envCount, err := d.array()
	if err != nil {
		return false, err
	}
	if n != 2+3*envCount {
		return false, fmt.Errorf("%d items for %d environments", n, envCount)
	}
	l.names = l.names[:0]
	for range envCount {
		name, err := d.str()
		if err != nil {
			return false, err
		}
		l.names = append(l.names, name)
	}
	raw := &l.raw
	raw.key = key
	clear(raw.hash)
	clear(raw.envs)
	l.members = l.members[:0]
	// failed is the first key of the flag that could not be read, in the
	// order the pipelined path checks them; the rest of the entry is read
	// past.
	var failed error
	if msg, isErr, err := d.errReply(); err != nil {
		return false, err
	} else if isErr {
		failed = l.fail(r, "definition", s.keys.flag(key), "hash", msg)
	} else if err := l.hash(d, raw.hash); err != nil {
		return false, err
	}
	for len(l.hashes) < envCount {
		l.hashes = append(l.hashes, map[string]string{})
	}
	for j, name := range l.names {
		var e rawEnv
		e.hash = l.hashes[j]
		clear(e.hash)
		if msg, isErr, err := d.errReply(); err != nil {
			return false, err
		} else if isErr {
			if failed == nil {
				failed = l.fail(r, "environments."+name, s.keys.env(key, name), "hash", msg)
			}
		} else if err := l.hash(d, e.hash); err != nil {
			return false, err
		}
		var msg string
		if e.users, e.largeUsers, msg, err = l.set(d); err != nil {
			return false, err
		} else if msg != "" && failed == nil {
			failed = l.fail(r, "environments."+name+".allowlistUsers", s.keys.users(key, name), "set", msg)
		}
		if e.regions, e.largeRegions, msg, err = l.set(d); err != nil {
			return false, err
		} else if msg != "" && failed == nil {
			failed = l.fail(r, "environments."+name+".allowlistRegions", s.keys.regions(key, name), "set", msg)
		}
		raw.envs[l.str(name)] = e
	}
	if failed != nil {
		return false, errorsAsLoad(failed)
	}
	if len(raw.hash) == 0 {
		r.Err = fmt.Errorf("flag %q: %w", key, ErrNotFound)
		return false, nil
	}
	r.Fingerprint = raw.fingerprint()
	if l.known != nil {
		if fp, ok := l.known(key); ok && fp == r.Fingerprint {
			r.Unchanged = true
			return false, nil
		}
	}
	r.Flag, r.Err = raw.decode()
	if r.Err != nil {
		r.Partial, r.EnvErrs = raw.partial()
	}
	return false, nil
}

// loadFailure is an error of a command of the script that is not about one
// flag: the whole load fails.
type loadFailure struct{ msg string }

func (e loadFailure) Error() string { return e.msg }

// errorsAsLoad returns nil for a flag that failed alone (its record says
// so) and the error for a failure of the load.
func errorsAsLoad(err error) error {
	var lf loadFailure
	if errors.As(err, &lf) {
		return err
	}
	return nil
}

// fail records that a key of the flag holds the wrong type of value (the
// flag fails alone, as on the pipelined path); another error fails the load.
// It returns a non-nil error in both cases, so that later keys of the flag
// are not reported instead.
func (l *loader) fail(r *Record, field, key, want, msg string) error {
	err := wrongTypeError(r.Key, field, key, want, errors.New(msg))
	if err == nil {
		return loadFailure{msg}
	}
	r.Err = err
	r.Flag = evaluator.Flag{}
	r.Fingerprint = errorFingerprint(err)
	if l.known != nil {
		if fp, ok := l.known(r.Key); ok && fp == r.Fingerprint {
			r.Err, r.Unchanged = nil, true
		}
	}
	return err
}

// hash reads an HGETALL reply (field, value, …) into m.
func (l *loader) hash(d *mpReader, m map[string]string) error {
	n, err := d.array()
	if err != nil {
		return err
	}
	if n%2 != 0 {
		return fmt.Errorf("a hash reply of %d items", n)
	}
	for range n / 2 {
		k, err := d.str()
		if err != nil {
			return err
		}
		v, err := d.str()
		if err != nil {
			return err
		}
		m[l.str(k)] = l.str(v)
	}
	return nil
}

// set reads an allowlist: its members (in the loader's scratch space,
// valid until the next flag), the member count of a set left in Redis, or
// the error message of a key that could not be read.
func (l *loader) set(d *mpReader) (members []string, count int64, msg string, err error) {
	if msg, isErr, err := d.errReply(); err != nil || isErr {
		return nil, 0, msg, err
	}
	if d.peekInt() {
		count, err = d.int()
		return nil, count, "", err
	}
	n, err := d.array()
	if err != nil || n == 0 {
		return nil, 0, "", err
	}
	start := len(l.members)
	for range n {
		m, err := d.str()
		if err != nil {
			return nil, 0, "", err
		}
		l.members = append(l.members, l.str(m))
	}
	return l.members[start:len(l.members):len(l.members)], 0, "", nil
}

// mpReader reads the subset of MessagePack that Redis's cmsgpack.pack
// writes for load.lua's reply: arrays, strings, integers and the
// one-entry maps of error replies.
type mpReader struct {
	b   string
	pos int
}

var errShortReply = errors.New("load script reply ends early")

func (d *mpReader) byte() (byte, error) {
	if d.pos >= len(d.b) {
		return 0, errShortReply
	}
	c := d.b[d.pos]
	d.pos++
	return c, nil
}

func (d *mpReader) uint(size int) (uint64, error) {
	if d.pos+size > len(d.b) {
		return 0, errShortReply
	}
	var v uint64
	for _, c := range []byte(d.b[d.pos : d.pos+size]) {
		v = v<<8 | uint64(c)
	}
	d.pos += size
	return v, nil
}

// array reads an array header and returns its length. An empty map is an
// empty array: cmsgpack writes an empty Lua table as either.
func (d *mpReader) array() (int, error) {
	c, err := d.byte()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), nil
	case c == 0x80:
		return 0, nil
	case c == 0xdc:
		n, err = d.uint(2)
	case c == 0xdd:
		n, err = d.uint(4)
	default:
		return 0, fmt.Errorf("load script reply: 0x%02x where an array belongs", c)
	}
	return int(n), err
}

// str reads a string.
func (d *mpReader) str() (string, error) {
	c, err := d.byte()
	if err != nil {
		return "", err
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == 0xd9 || c == 0xc4:
		n, err = d.uint(1)
	case c == 0xda || c == 0xc5:
		n, err = d.uint(2)
	case c == 0xdb || c == 0xc6:
		n, err = d.uint(4)
	default:
		return "", fmt.Errorf("load script reply: 0x%02x where a string belongs", c)
	}
	if err != nil {
		return "", err
	}
	if uint64(len(d.b)-d.pos) < n {
		return "", errShortReply
	}
	s := d.b[d.pos : d.pos+int(n)]
	d.pos += int(n)
	return s, nil
}

// peekInt reports whether an integer comes next.
func (d *mpReader) peekInt() bool {
	if d.pos >= len(d.b) {
		return false
	}
	c := d.b[d.pos]
	return c <= 0x7f || c >= 0xe0 || (c >= 0xcc && c <= 0xd3)
}

// int reads an integer.
func (d *mpReader) int() (int64, error) {
	c, err := d.byte()
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0xcc && c <= 0xcf:
		v, err := d.uint(1 << (c - 0xcc))
		return int64(v), err
	case c >= 0xd0 && c <= 0xd3:
		size := 1 << (c - 0xd0)
		v, err := d.uint(size)
		shift := 64 - 8*size
		return int64(v<<shift) >> shift, err
	}
	return 0, fmt.Errorf("load script reply: 0x%02x where an integer belongs", c)
}

// errReply reads an error reply ({err = "..."}) if one comes next; else it
// leaves the position as it was.
func (d *mpReader) errReply() (msg string, ok bool, err error) {
	if d.pos >= len(d.b) {
		return "", false, errShortReply
	}
	c := d.b[d.pos]
	if c < 0x81 || c > 0x8f {
		return "", false, nil
	}
	d.pos++
	// Redis may add fields beside err (such as the source of the error).
	for range int(c & 0x0f) {
		k, err := d.str()
		if err != nil {
			return "", false, err
		}
		if k != "err" {
			if err := d.skip(0); err != nil {
				return "", false, err
			}
			continue
		}
		if msg, err = d.str(); err != nil {
			return "", false, err
		}
		ok = true
	}
	if !ok {
		return "", false, errors.New("load script reply: a map without err")
	}
	return msg, true, nil
}

// skip reads past one value of any type.
func (d *mpReader) skip(depth int) error {
	if depth > 8 {
		return errors.New("load script reply nests too deep")
	}
	if d.pos >= len(d.b) {
		return errShortReply
	}
	c := d.b[d.pos]
	switch {
	case c == 0xc0 || c == 0xc2 || c == 0xc3:
		d.pos++
		return nil
	case d.peekInt():
		_, err := d.int()
		return err
	case c == 0xca || c == 0xcb:
		d.pos++
		_, err := d.uint(4 << (c - 0xca))
		return err
	case (c >= 0xa0 && c <= 0xbf) || (c >= 0xd9 && c <= 0xdb) || (c >= 0xc4 && c <= 0xc6):
		_, err := d.str()
		return err
	case (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf:
		d.pos++
		var n uint64
		var err error
		switch c {
		case 0xde:
			n, err = d.uint(2)
		case 0xdf:
			n, err = d.uint(4)
		default:
			n = uint64(c & 0x0f)
		}
		if err != nil {
			return err
		}
		for range 2 * n {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	}
	n, err := d.array()
	if err != nil {
		return err
	}
	for range n {
		if err := d.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
