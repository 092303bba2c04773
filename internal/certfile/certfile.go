// Package certfile serves a TLS certificate from files that may be
// replaced while the gateway runs (a renewal by certbot, say): the pair is
// reloaded when either file changes, with no restart.
package certfile

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// checkEvery bounds how often the files are stat'ed.
const checkEvery = 5 * time.Second

// Reloader holds the current certificate of a cert/key file pair.
type Reloader struct {
	certPath, keyPath string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]time.Time
	checked time.Time
}

// Load reads the pair once, failing if it is unusable.
func Load(certPath, keyPath string) (*Reloader, error) {
	r := &Reloader{certPath: certPath, keyPath: keyPath}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reloader) stamps() ([2]time.Time, error) {
	var s [2]time.Time
	for i, p := range []string{r.certPath, r.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return s, err
		}
		s[i] = fi.ModTime()
	}
	return s, nil
}

// reload reads the pair; the caller holds mu or is Load.
func (r *Reloader) reload() error {
	s, err := r.stamps()
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certPath, r.keyPath)
	if err != nil {
		return fmt.Errorf("tls certificate %s / %s: %w", r.certPath, r.keyPath, err)
	}
	r.cert, r.stamp, r.checked = &cert, s, time.Now()
	return nil
}

// GetCertificate is for tls.Config.GetCertificate. A pair that fails to
// load after a change keeps the previous certificate in service.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) >= checkEvery {
		r.checked = time.Now()
		if s, err := r.stamps(); err == nil && s != r.stamp {
			_ = r.reload() // on error the old certificate stays
		}
	}
	return r.cert, nil
}
