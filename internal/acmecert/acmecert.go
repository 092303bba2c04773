// Package acmecert gets and renews the gateway's TLS certificates from an
// ACME CA (Let's Encrypt by default) with golang.org/x/crypto/acme/autocert:
// TLS-ALPN-01 on the HTTPS listener itself and, when a port-80 listener is
// given, HTTP-01 there. Certificates and the account key are cached in a
// directory of the data dir, so a restart reuses them.
package acmecert

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
	"golang.org/x/net/idna"
)

// DefaultDirectory is Let's Encrypt's production directory.
const DefaultDirectory = autocert.DefaultACMEDirectory

// Config is what the manager needs.
type Config struct {
	// Domains are the gateway's own names (--acme-domain).
	Domains []string
	// Email is the account's contact (--acme-email), may be empty.
	Email string
	// Directory is the ACME directory URL (--acme-directory).
	Directory string
	// CacheDir keeps the account key and the certificates.
	CacheDir string
	// ShareDomain, when set, is the share-link domain: a host NAME.DOMAIN
	// gets a certificate on demand when ShareName(NAME) says a live link
	// is named so. Tokens never do (see HostPolicy).
	ShareDomain string
	ShareName   func(label string) bool
	Log         *slog.Logger
}

// Manager serves the certificates. Make one with New.
type Manager struct {
	cfg Config
	m   *autocert.Manager
	log *slog.Logger
}

// New checks cfg and returns a Manager. No certificate is asked for yet.
func New(cfg Config) (*Manager, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("--acme-domain: at least one name is needed")
	}
	domains := make([]string, 0, len(cfg.Domains))
	for _, d := range cfg.Domains {
		n, err := CheckDomain(d)
		if err != nil {
			return nil, err
		}
		domains = append(domains, n)
	}
	cfg.Domains = domains
	if cfg.Directory == "" {
		cfg.Directory = DefaultDirectory
	}
	if !strings.HasPrefix(cfg.Directory, "https://") {
		return nil, fmt.Errorf("--acme-directory %q: want an https:// URL", cfg.Directory)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	cfg.ShareDomain = strings.TrimSuffix(strings.ToLower(cfg.ShareDomain), ".")
	mgr := &Manager{cfg: cfg, log: cfg.Log.With("part", "acme")}
	mgr.m = &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      &loggingCache{Cache: autocert.DirCache(cfg.CacheDir), log: mgr.log},
		HostPolicy: mgr.HostPolicy,
		Email:      cfg.Email,
		Client:     &acme.Client{DirectoryURL: cfg.Directory, UserAgent: "tubegate"},
	}
	return mgr, nil
}

// CheckDomain returns d as the ASCII host name a certificate is asked
// for, or says why no ACME CA would issue one for it by TLS-ALPN-01 or
// HTTP-01: wildcards need DNS-01, and IP addresses and one-label names
// are not issued.
func CheckDomain(d string) (string, error) {
	trimmed := strings.TrimSuffix(strings.TrimSpace(d), ".")
	switch {
	case strings.Contains(trimmed, "*"):
		return "", fmt.Errorf("--acme-domain %q: a wildcard name needs the DNS-01 challenge, which the gateway does not do (use --tls-cert with a certificate from your DNS provider's ACME client)", d)
	case strings.ContainsAny(trimmed, ":/"):
		return "", fmt.Errorf("--acme-domain %q: want a host name only (no scheme, port or path)", d)
	}
	n, err := idna.Lookup.ToASCII(trimmed)
	switch {
	case err != nil || n == "":
		return "", fmt.Errorf("--acme-domain %q: not a host name", d)
	case !strings.Contains(n, "."):
		return "", fmt.Errorf("--acme-domain %q: a CA issues certificates for names with a dot only", d)
	}
	if _, err := netip.ParseAddr(n); err == nil {
		return "", fmt.Errorf("--acme-domain %q: want a host name, not an IP address", d)
	}
	return n, nil
}

// Domains returns the gateway's own names, as checked by New.
func (m *Manager) Domains() []string { return append([]string(nil), m.cfg.Domains...) }

// HostPolicy says which names a certificate may be asked for: the
// gateway's own names, and NAME.SHARE-DOMAIN for a live link named NAME.
// A token host (TOKEN.SHARE-DOMAIN) never gets one: every certificate is
// published in Certificate Transparency logs, so the token, the link's
// only secret, would be public within minutes.
func (m *Manager) HostPolicy(_ context.Context, host string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h // an HTTP-01 request's Host on a port other than 80
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, d := range m.cfg.Domains {
		if host == d {
			return nil
		}
	}
	if s := m.cfg.ShareDomain; s != "" && m.cfg.ShareName != nil && strings.HasSuffix(host, "."+s) {
		label := strings.TrimSuffix(host, "."+s)
		if label != "" && !strings.Contains(label, ".") && m.cfg.ShareName(label) {
			return nil
		}
		return fmt.Errorf("acme: no certificate for %q: only named share links get one (a token must never reach the CT logs)", host)
	}
	return fmt.Errorf("acme: no certificate for %q: not one of --acme-domain", host)
}

// TLSConfig returns the HTTPS listener's TLS config: certificates from
// the CA, answering TLS-ALPN-01 challenges on the same port. HTTP/2 is
// not offered, as without ACME.
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: m.m.GetCertificate,
		NextProtos:     []string{"http/1.1", acme.ALPNProto},
		MinVersion:     tls.VersionTLS12,
	}
}

// HTTPHandler answers HTTP-01 challenges on a port-80 listener and
// redirects every other GET or HEAD to https (as autocert does). Each
// challenge answered is logged.
func (m *Manager) HTTPHandler() http.Handler {
	h := m.m.HTTPHandler(nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			m.log.Info("acme http-01 challenge", "host", r.Host, "remote", r.RemoteAddr)
		}
		h.ServeHTTP(w, r)
	})
}

// Prefetch asks for the certificate of every own name now, rather than
// at the first browser's handshake, and logs each one's outcome. A name
// that fails is asked for again at its next handshake.
func (m *Manager) Prefetch(ctx context.Context) {
	for _, d := range m.cfg.Domains {
		if ctx.Err() != nil {
			return
		}
		// A hello that takes ECDSA, as every current browser's does.
		hello := &tls.ClientHelloInfo{
			ServerName:       d,
			CipherSuites:     []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
			SupportedCurves:  []tls.CurveID{tls.CurveP256},
		}
		start := time.Now()
		cert, err := m.m.GetCertificate(hello)
		if err != nil {
			m.log.Warn("acme certificate not obtained; asked for again at the next TLS handshake", "domain", d, "err", err)
			continue
		}
		leaf := cert.Leaf
		if leaf == nil {
			m.log.Info("acme certificate ready", "domain", d, "took", time.Since(start).Round(time.Millisecond))
			continue
		}
		m.log.Info("acme certificate ready", "domain", d, "serial", leaf.SerialNumber.Text(16),
			"issuer", leaf.Issuer.CommonName, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339),
			"took", time.Since(start).Round(time.Millisecond))
	}
}

// loggingCache logs certificates read from and written to the cache.
type loggingCache struct {
	autocert.Cache
	log *slog.Logger
}

// certKey reports whether a cache key is a certificate's (not the
// account key's or a challenge token's).
func certKey(key string) bool {
	return !strings.Contains(key, "+token") && !strings.HasSuffix(key, "+http-01") && key != "acme_account+key"
}

func (c *loggingCache) Get(ctx context.Context, key string) ([]byte, error) {
	data, err := c.Cache.Get(ctx, key)
	if err == nil && certKey(key) {
		c.log.Info("acme certificate from the cache", "key", key)
	}
	return data, err
}

func (c *loggingCache) Put(ctx context.Context, key string, data []byte) error {
	err := c.Cache.Put(ctx, key, data)
	if certKey(key) {
		if err != nil {
			c.log.Warn("acme certificate not cached (obtained again after a restart)", "key", key, "err", err)
		} else {
			c.log.Info("acme certificate issued and cached", "key", key)
		}
	}
	return err
}
