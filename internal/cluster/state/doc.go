// Package state keeps a cluster's shared state in Redis: the documents
// that a single node keeps in its data dir (users, web sessions and their
// revocations, the session cookie keys, the SSH host keys), each whole in
// one hash with a revision, and the per-source counts of wrong passwords.
// The packages that own the data (users, webauth, hostkeys, throttle)
// define what they need (datadir.Blob, throttle.Shared); this package
// gives it to them, so none of them imports Redis.
package state
