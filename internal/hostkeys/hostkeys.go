// Package hostkeys makes the gateway's SSH host keys on first start and
// loads the same keys on every start after, so fingerprints never change.
package hostkeys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/datadir"
)

// kinds are the host keys the gateway keeps, by file name.
var kinds = []struct {
	file string
	gen  func() (crypto.Signer, error)
}{
	{"host_ed25519_key", func() (crypto.Signer, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}},
	{"host_ecdsa_key", func() (crypto.Signer, error) {
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}},
}

// LoadOrCreate returns the host keys kept in dir, making any that are
// missing (private key mode 0600, with a .pub beside it).
func LoadOrCreate(dir string) ([]ssh.Signer, error) {
	if err := datadir.Ensure(dir); err != nil {
		return nil, err
	}
	signers := make([]ssh.Signer, 0, len(kinds))
	for _, k := range kinds {
		path := filepath.Join(dir, k.file)
		s, err := load(path)
		if errors.Is(err, fs.ErrNotExist) {
			s, err = create(path, k.gen)
		}
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", path, err)
		}
		signers = append(signers, s)
	}
	return signers, nil
}

// Files are the names of the host keys, in the data dir and in a
// cluster's store.
func Files() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = k.file
	}
	return out
}

// LoadOrCreateShared returns a cluster's host keys, so that every node is
// the same gateway to its clients (the same fingerprints). A key the
// cluster does not have yet is stored by the first node that asks: the
// one in its data dir dir if there is one (a single node joining keeps
// its fingerprints), else a new one. The data dir's keys are not used
// once the cluster has its own.
func LoadOrCreateShared(dir string, shared datadir.Blobs) ([]ssh.Signer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*datadir.BlobTimeout)
	defer cancel()
	signers := make([]ssh.Signer, 0, len(kinds))
	for _, k := range kinds {
		b := shared.Blob(k.file)
		_, err := b.Update(ctx, func(old []byte) ([]byte, error) {
			if old != nil {
				return old, nil
			}
			if data, err := os.ReadFile(filepath.Join(dir, k.file)); err == nil {
				if _, err := ssh.ParsePrivateKey(data); err == nil {
					return data, nil
				}
			}
			key, err := k.gen()
			if err != nil {
				return nil, err
			}
			block, err := ssh.MarshalPrivateKey(key, "tubegate host key")
			if err != nil {
				return nil, err
			}
			return pem.EncodeToMemory(block), nil
		})
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", k.file, err)
		}
		data, _, err := b.Read(ctx)
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", k.file, err)
		}
		s, err := ssh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", b.Name(), err)
		}
		signers = append(signers, s)
	}
	return signers, nil
}

// Check checks that data is a host key the gateway can use, for the import.
func Check(data []byte) error {
	_, err := ssh.ParsePrivateKey(data)
	return err
}

func load(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ssh.ParsePrivateKey(data)
}

func create(path string, gen func() (crypto.Signer, error)) (ssh.Signer, error) {
	key, err := gen()
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(key, "tubegate host key")
	if err != nil {
		return nil, err
	}
	if err := datadir.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromSigner(key)
	if err != nil {
		return nil, err
	}
	if err := datadir.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		return nil, err
	}
	return signer, nil
}
