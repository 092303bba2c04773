package webauth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tubegate/tubegate/internal/datadir"
)

// keyFile holds the cookie keys: 64 bytes of HMAC key, then 32 of AES key.
const keyFile = "session_keys"

const (
	hashKeyLen  = 64
	blockKeyLen = 32
)

// loadOrCreateKeys reads the cookie keys from dir, making them on first use.
func loadOrCreateKeys(dir string) (hashKey, blockKey []byte, err error) {
	if err := datadir.Ensure(dir); err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, keyFile)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = make([]byte, hashKeyLen+blockKeyLen)
		if _, err := rand.Read(data); err != nil {
			return nil, nil, fmt.Errorf("session keys: %w", err)
		}
		unlock, err := datadir.Lock(path + ".lock")
		if err != nil {
			return nil, nil, err
		}
		defer unlock()
		if existing, err := os.ReadFile(path); err == nil { // made meanwhile by another process
			data = existing
		} else if err := datadir.WriteFile(path, data, 0o600); err != nil {
			return nil, nil, fmt.Errorf("session keys: %w", err)
		}
	case err != nil:
		return nil, nil, fmt.Errorf("session keys: %w", err)
	}
	if len(data) != hashKeyLen+blockKeyLen {
		return nil, nil, fmt.Errorf("session keys: %s has %d bytes, want %d (delete it to make new keys, which logs everyone out)",
			path, len(data), hashKeyLen+blockKeyLen)
	}
	return data[:hashKeyLen], data[hashKeyLen:], nil
}

// loadKeys reads the cookie keys of dir, if it has them.
func loadKeys(dir string) (hashKey, blockKey []byte, err error) {
	data, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, nil, err
	}
	if err := CheckKeys(data); err != nil {
		return nil, nil, fmt.Errorf("session keys: %w", err)
	}
	return data[:hashKeyLen], data[hashKeyLen:], nil
}
