package store

import (
	"hash/fnv"
	"slices"
	"strconv"
	"testing"
)

// fingerprintFNV is the fingerprint as it was computed with hash/fnv before
// it was written out without allocations: fingerprints are compared across
// loads (and versions of this code, in a running provider's resync), so the
// two must agree.
func fingerprintFNV(r rawFlag) uint64 {
	h := fnv.New64a()
	// One scratch buffer for the sorted names and one for the bytes written:
	// the load fingerprints every flag, so this path avoids allocating per
	// field.
	var names []string
	var buf []byte
	writeHash := func(m map[string]string) {
		names = names[:0]
		for k := range m {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			buf = append(buf[:0], k...)
			buf = append(buf, 0)
			buf = append(buf, m[k]...)
			buf = append(buf, 0)
			h.Write(buf)
		}
		h.Write([]byte{1})
	}
	writeSet := func(s []string) {
		names = append(names[:0], s...)
		slices.Sort(names)
		for _, m := range names {
			buf = append(buf[:0], m...)
			buf = append(buf, 0)
			h.Write(buf)
		}
		h.Write([]byte{2})
	}
	writeHash(r.hash)
	for _, name := range sortedKeys(r.envs) {
		e := r.envs[name]
		h.Write([]byte(name))
		h.Write([]byte{3})
		writeHash(e.hash)
		writeSet(e.users)
		writeSet(e.regions)
		// A large set is fingerprinted by its size only: its members are
		// asked live, so a change of members needs no new snapshot.
		buf = strconv.AppendInt(buf[:0], e.largeUsers, 10)
		buf = append(buf, 0)
		buf = strconv.AppendInt(buf, e.largeRegions, 10)
		h.Write(buf)
	}
	return h.Sum64()
}

func TestFingerprintIsFNV1aOfTheStoredData(t *testing.T) {
	raws := []rawFlag{
		{key: "empty", hash: map[string]string{}},
		{key: "f", hash: map[string]string{"description": "d", "defaultEnabled": "true", "version": "7"}, envs: map[string]rawEnv{
			"production": {hash: map[string]string{"enabled": "true", "rolloutPercent": "25"}, users: []string{"u2", "u1"}, regions: []string{"eu"}},
			"staging":    {hash: map[string]string{}, largeUsers: 20000, largeRegions: 3},
			"a":          {},
		}},
	}
	for i := range 40 { // more fields than the scratch space holds
		raws[1].hash["field-"+strconv.Itoa(i)] = strconv.Itoa(i * i)
	}
	seen := map[uint64]bool{}
	for _, r := range raws {
		got, want := r.fingerprint(), fingerprintFNV(r)
		if got != want {
			t.Errorf("%s: fingerprint %x, FNV-1a %x", r.key, got, want)
		}
		seen[got] = true
	}
	if len(seen) != len(raws) {
		t.Errorf("different flags with one fingerprint")
	}
}
