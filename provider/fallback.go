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
	data, err := json.Marshal(fallbackFile{SavedAt: time.Now().UTC().Format(time.RFC3339Nano), Flags: s.definitions()})
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
		recs = append(recs, store.Record{Key: fl.Key, Flag: fl})
	}
	return fullSnapshot(recs), nil
}
