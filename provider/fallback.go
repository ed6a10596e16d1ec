package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/redisflags/redisflags/evaluator"
	"github.com/redisflags/redisflags/store"
)

// fallbackFile is the fallback file's JSON form.
type fallbackFile struct {
	SavedAt string           `json:"savedAt"`
	Flags   []evaluator.Flag `json:"flags"`
	// Large lists, per flag and environment, the allowlists that stayed in
	// Redis (their sizes), which the definitions' JSON form leaves out: a
	// cold start from the file then asks Redis for them (and answers with
	// an error while Redis is down) instead of silently treating them as
	// empty.
	Large map[string]map[string][2]int64 `json:"large,omitempty"`
}

// saveFallback writes the snapshot's definitions to the fallback file
// atomically (a temporary file renamed over it), so a crash never leaves a
// half-written file. Failures are logged: the file is a convenience.
func (p *Provider) saveFallback(s *snapshot) {
	if p.cfg.fallbackFile == "" {
		return
	}
	if err := writeFallback(p.cfg.fallbackFile, s); err != nil {
		p.cfg.logger.Warn("redisflags: could not write the fallback file", "file", p.cfg.fallbackFile, "err", err)
	}
}

func writeFallback(path string, s *snapshot) error {
	ff := fallbackFile{SavedAt: time.Now().UTC().Format(time.RFC3339Nano), Flags: s.definitions()}
	for _, f := range ff.Flags {
		for name, env := range f.Environments {
			if env.HasLargeAllowlist() {
				if ff.Large == nil {
					ff.Large = map[string]map[string][2]int64{}
				}
				if ff.Large[f.Key] == nil {
					ff.Large[f.Key] = map[string][2]int64{}
				}
				ff.Large[f.Key][name] = [2]int64{env.LargeUsers, env.LargeRegions}
			}
		}
	}
	data, err := json.Marshal(ff)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// readFallback reads a fallback file into a snapshot. Every definition is
// validated; one that does not is served as PARSE_ERROR, like bad data in
// Redis.
func readFallback(path string) (*snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f fallbackFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("fallback file %s: %w", path, err)
	}
	recs := make([]store.Record, 0, len(f.Flags))
	for _, fl := range f.Flags {
		for name, sizes := range f.Large[fl.Key] {
			if env, ok := fl.Environments[name]; ok {
				env.LargeUsers, env.LargeRegions = sizes[0], sizes[1]
				fl.Environments[name] = env
			}
		}
		recs = append(recs, store.Record{Key: fl.Key, Flag: fl})
	}
	return fullSnapshot(recs, nil), nil
}
