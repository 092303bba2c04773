package webauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tubegate/tubegate/internal/datadir"
	"github.com/tubegate/tubegate/internal/users"
)

// The web sessions' documents: files of the data dir, and their names in a
// cluster's store (Config.Shared), which holds the same bytes.
const (
	KeysFile     = keyFile
	SessionsFile = sessionsFile
	RevokedFile  = revokedFile
)

// sharedKeys returns the cluster's cookie keys, storing new ones (those of
// the data dir dir, if it has them, else fresh) when the cluster has none:
// every node then issues and accepts the same cookies.
func sharedKeys(shared datadir.Blobs, dir string) (hashKey, blockKey []byte, err error) {
	b := shared.Blob(KeysFile)
	ctx, cancel := context.WithTimeout(context.Background(), datadir.BlobTimeout)
	defer cancel()
	_, err = b.Update(ctx, func(old []byte) ([]byte, error) {
		if old != nil {
			return old, nil
		}
		if h, k, err := loadKeys(dir); err == nil {
			return append(append([]byte{}, h...), k...), nil
		}
		data := make([]byte, hashKeyLen+blockKeyLen)
		if _, err := rand.Read(data); err != nil {
			return nil, err
		}
		return data, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("session keys: %w", err)
	}
	data, _, err := b.Read(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("session keys: %w", err)
	}
	if len(data) != hashKeyLen+blockKeyLen {
		return nil, nil, fmt.Errorf("session keys: %s has %d bytes, want %d", b.Name(), len(data), hashKeyLen+blockKeyLen)
	}
	return data[:hashKeyLen], data[hashKeyLen:], nil
}

// sharedRevoked reads the cluster's logged-out sessions still within
// their lifetime.
func sharedRevoked(shared datadir.Blobs) (map[string]time.Time, error) {
	doc, _, err := datadir.NewBlobDoc[map[string]time.Time](shared.Blob(RevokedFile)).Load()
	if err != nil {
		return nil, fmt.Errorf("revoked sessions: %w", err)
	}
	m := make(map[string]time.Time, len(*doc))
	for id, until := range *doc {
		m[id] = until
	}
	prune(m, time.Now())
	return m, nil
}

// saveSharedRevoked adds this node's logged-out sessions to the cluster's
// list (the other nodes' entries stay), dropping the expired ones.
func saveSharedRevoked(shared datadir.Blobs) func(string, map[string]time.Time) error {
	doc := datadir.NewBlobDoc[map[string]time.Time](shared.Blob(RevokedFile))
	return func(_ string, m map[string]time.Time) error {
		return doc.Update(func(all *map[string]time.Time) error {
			if *all == nil {
				*all = make(map[string]time.Time, len(m))
			}
			for id, until := range m {
				(*all)[id] = until
			}
			prune(*all, time.Now())
			return nil
		})
	}
}

// sessionTableOf is the sessions table of the data dir dir, or the
// cluster's when shared is not nil.
func sessionTableOf(dir string, shared datadir.Blobs) *sessionTable {
	if shared == nil {
		return openSessionTable(dir)
	}
	return &sessionTable{file: datadir.NewBlobDoc[sessionsDoc](shared.Blob(SessionsFile))}
}

// ListSharedSessions is ListSessions for a cluster's sessions.
func ListSharedSessions(shared datadir.Blobs, us *users.Store, user string) ([]SessionInfo, error) {
	return listSessions(sessionTableOf("", shared), us, user)
}

// RevokeSharedSessions is RevokeSessions for a cluster's sessions: every
// node refuses them and closes their browser tubes within a second.
func RevokeSharedSessions(shared datadir.Blobs, us *users.Store, user string) (int, error) {
	return revokeSessions(sessionTableOf("", shared), us, user)
}

// CheckKeys checks that data is a session keys document, for the import.
func CheckKeys(data []byte) error {
	if len(data) != hashKeyLen+blockKeyLen {
		return fmt.Errorf("%d bytes, want %d", len(data), hashKeyLen+blockKeyLen)
	}
	return nil
}

// CheckSessions checks that data is a sessions document and counts them.
func CheckSessions(data []byte) (int, error) {
	var doc sessionsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return 0, err
	}
	return len(doc.Sessions), nil
}

// CheckRevoked checks that data is a revoked sessions document and counts
// the entries.
func CheckRevoked(data []byte) (int, error) {
	var m map[string]time.Time
	if err := json.Unmarshal(data, &m); err != nil {
		return 0, err
	}
	return len(m), nil
}
