package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// JSONFile is one JSON document in the data dir, shared between the
// running server and the command line. Load rereads it only when the file
// changed; Update changes it under a cross-process lock and replaces it
// atomically.
type JSONFile[T any] struct {
	path string

	mu      sync.Mutex
	stamp   stamp
	val     *T
	version uint64
}

// stamp identifies one version of a file: a rename over it changes the
// inode, an edit in place the time or size.
type stamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// NewJSONFile returns the document at path (which need not exist yet).
func NewJSONFile[T any](path string) *JSONFile[T] {
	return &JSONFile[T]{path: path}
}

// Path is the file's path.
func (f *JSONFile[T]) Path() string { return f.path }

// Load returns the current document and a version number that changes
// whenever the document does. A missing file is the zero document. The
// returned value is shared: treat it as read-only. A file that cannot be
// read or parsed (say, mid-edit by hand) keeps the last good document in
// service: Load returns it (nil if there never was one) with the error.
func (f *JSONFile[T]) Load() (*T, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := statFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		if f.val == nil || f.stamp != (stamp{}) {
			f.val, f.stamp = new(T), stamp{}
			f.version++
		}
		return f.val, f.version, nil
	}
	if err != nil {
		return f.val, f.version, fmt.Errorf("read %s: %w", f.path, err)
	}
	if f.val != nil && st == f.stamp {
		return f.val, f.version, nil
	}
	data, err := os.ReadFile(f.path)
	if err != nil {
		return f.val, f.version, fmt.Errorf("read %s: %w", f.path, err)
	}
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return f.val, f.version, fmt.Errorf("read %s: %w", f.path, err)
	}
	f.val, f.stamp = v, st
	f.version++
	return f.val, f.version, nil
}

// Update reads the document afresh under a lock shared with other
// processes, lets fn change a private copy, and writes the result (mode
// 0600) atomically. If fn fails nothing is written.
func (f *JSONFile[T]) Update(fn func(doc *T) error) error {
	unlock, err := Lock(f.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	cur, _, err := f.Load()
	if err != nil {
		return err
	}
	// A deep copy through JSON keeps fn from touching the shared value.
	raw, err := json.Marshal(cur)
	if err != nil {
		return fmt.Errorf("update %s: %w", f.path, err)
	}
	doc := new(T)
	if err := json.Unmarshal(raw, doc); err != nil {
		return fmt.Errorf("update %s: %w", f.path, err)
	}
	if err := fn(doc); err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("update %s: %w", f.path, err)
	}
	if err := WriteFile(f.path, append(out, '\n'), 0o600); err != nil {
		return err
	}
	// What was just written is now the last good document. The lock keeps
	// other writers out, so the file's stamp is this write's.
	st, err := statFile(f.path)
	f.mu.Lock()
	f.val, f.stamp = doc, st
	if err != nil {
		f.stamp = stamp{} // reread on next Load
	}
	f.version++
	f.mu.Unlock()
	return nil
}

func statFile(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	st := stamp{mod: fi.ModTime(), size: fi.Size()}
	st.ino = FileID(path, fi)
	return st, nil
}
