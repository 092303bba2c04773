package datadir

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Blob is a document kept outside the data dir, in a store several
// gateways share (a cluster's Redis): its bytes and a revision that
// changes whenever they do. internal/cluster/state implements it.
type Blob interface {
	// Name says where the document is, for errors and logs.
	Name() string
	// Revision is the document's current revision ("" if it does not
	// exist): a cheap look that tells whether a cached copy is current.
	Revision(ctx context.Context) (string, error)
	// Read returns the document (nil if it does not exist) and its revision.
	Read(ctx context.Context) ([]byte, string, error)
	// Update replaces the document with what fn makes of it (old is nil
	// if it does not exist), atomically: if another writer changed it
	// meanwhile, fn runs again on the new one. If fn fails nothing is
	// written. It returns the revision written.
	Update(ctx context.Context, fn func(old []byte) ([]byte, error)) (string, error)
}

// BlobTimeout bounds each look at a Blob made by a BlobDoc.
const BlobTimeout = 3 * time.Second

// Document is a JSON document shared between the running server and the
// command line: a JSONFile in the data dir, or a BlobDoc in a cluster.
type Document[T any] interface {
	Load() (*T, uint64, error)
	Update(fn func(doc *T) error) error
}

// BlobDoc is a JSON document in a Blob, with the contract of JSONFile:
// Load rereads it only when its revision changed; Update changes it
// atomically (fn may run more than once, each time on a fresh copy).
type BlobDoc[T any] struct {
	blob Blob

	mu      sync.Mutex
	rev     string
	val     *T
	version uint64
}

// NewBlobDoc returns the document kept in b.
func NewBlobDoc[T any](b Blob) *BlobDoc[T] {
	return &BlobDoc[T]{blob: b}
}

// Load returns the current document and a version number that changes
// whenever the document does; a missing document is the zero one. The
// value is shared: treat it as read-only. When the store cannot be read
// (unreachable), Load returns the last good document (nil if there never
// was one) with the error, like JSONFile with a broken file.
func (d *BlobDoc[T]) Load() (*T, uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), BlobTimeout)
	defer cancel()
	rev, err := d.blob.Revision(ctx)
	if err != nil {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.val, d.version, fmt.Errorf("read %s: %w", d.blob.Name(), err)
	}
	d.mu.Lock()
	if d.val != nil && rev == d.rev {
		defer d.mu.Unlock()
		return d.val, d.version, nil
	}
	d.mu.Unlock()
	data, rev, err := d.blob.Read(ctx)
	if err != nil {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.val, d.version, fmt.Errorf("read %s: %w", d.blob.Name(), err)
	}
	v, err := decode[T](data)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		return d.val, d.version, fmt.Errorf("read %s: %w", d.blob.Name(), err)
	}
	d.keep(v, rev)
	return d.val, d.version, nil
}

// keep makes v (at rev) the cached document; call with mu held.
func (d *BlobDoc[T]) keep(v *T, rev string) {
	if d.val != nil && rev == d.rev {
		return
	}
	d.val, d.rev = v, rev
	d.version++
}

// Update reads the document afresh, lets fn change a private copy and
// writes the result unless another writer got there first, in which case
// it starts again. If fn fails nothing is written.
func (d *BlobDoc[T]) Update(fn func(doc *T) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*BlobTimeout)
	defer cancel()
	var doc *T
	rev, err := d.blob.Update(ctx, func(old []byte) ([]byte, error) {
		v, err := decode[T](old)
		if err != nil {
			return nil, fmt.Errorf("update %s: %w", d.blob.Name(), err)
		}
		if err := fn(v); err != nil {
			return nil, err
		}
		out, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("update %s: %w", d.blob.Name(), err)
		}
		doc = v
		return out, nil
	})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.keep(doc, rev)
	d.mu.Unlock()
	return nil
}

func decode[T any](data []byte) (*T, error) {
	v := new(T)
	if len(data) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	return v, nil
}

// Blobs names the documents of a shared store: Blob("users.json") is the
// cluster's counterpart of the data dir's users.json.
type Blobs interface {
	Blob(name string) Blob
}
