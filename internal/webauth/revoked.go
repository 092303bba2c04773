package webauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tubegate/tubegate/internal/datadir"
)

// revokedFile lists logged-out sessions until they would have expired, so
// that a logout holds across a restart.
const revokedFile = "sessions_revoked.json"

// loadRevoked reads the revoked session IDs still within their lifetime.
func loadRevoked(dir string) (map[string]time.Time, error) {
	data, err := os.ReadFile(filepath.Join(dir, revokedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return make(map[string]time.Time), nil
	}
	if err != nil {
		return nil, fmt.Errorf("revoked sessions: %w", err)
	}
	m := make(map[string]time.Time)
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("revoked sessions: %s: %w", filepath.Join(dir, revokedFile), err)
	}
	prune(m, time.Now())
	return m, nil
}

// saveRevoked writes the revoked session IDs atomically.
func saveRevoked(dir string, m map[string]time.Time) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("revoked sessions: %w", err)
	}
	return datadir.WriteFile(filepath.Join(dir, revokedFile), data, 0o600)
}

// prune drops entries whose sessions have expired anyway.
func prune(m map[string]time.Time, now time.Time) {
	for id, until := range m {
		if now.After(until) {
			delete(m, id)
		}
	}
}
