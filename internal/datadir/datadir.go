// Package datadir holds the small file helpers every part of the gateway's
// state directory uses: atomic writes, a cross-process lock and file
// identity. It builds on Unix and Windows; the modes it asks for (0700
// directories, 0600 files) are enforced by Unix permissions, while on
// Windows Go maps them to the read-only bit only and the directory is as
// private as its parent's ACL (the user's profile is private to that user).
package datadir

import (
	"fmt"
	"os"
	"path/filepath"
)

// Ensure creates dir (mode 0700) if it does not exist.
func Ensure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	return nil
}

// WriteFile replaces path atomically: the data is written to a temporary
// file in the same directory, synced, and renamed over path, so a reader
// sees either the old or the new content, never a torn one.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Lock takes an exclusive advisory lock on path (created if missing) and
// returns the function that releases it. It serializes read-modify-write
// cycles between the server and the command line. (flock(2) on Unix,
// LockFileEx on Windows: see lock_*.go.)
func Lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		unlockFile(f)
		f.Close()
	}, nil
}

// tempPattern matches the temporary files WriteFile makes beside their target.
const tempPattern = ".*.tmp*"

// RemoveTemp deletes the temporary files an interrupted WriteFile (a kill -9
// mid-save) left in dir, and returns their names. The target files are
// untouched: the rename that would have replaced them never happened. Call
// it at start, before anything writes.
func RemoveTemp(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, tempPattern))
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	var removed []string
	for _, path := range names {
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := os.Remove(path); err != nil {
			return removed, fmt.Errorf("data dir: remove leftover %s: %w", filepath.Base(path), err)
		}
		removed = append(removed, filepath.Base(path))
	}
	return removed, nil
}
