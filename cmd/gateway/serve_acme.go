package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/tubegate/tubegate/internal/acceptloop"
	"github.com/tubegate/tubegate/internal/acmecert"
	"github.com/tubegate/tubegate/internal/sharelink"
)

// acmeServeOptions are serve's flags for certificates from an ACME CA.
type acmeServeOptions struct {
	domains          []string
	email, directory string
	httpListen       string
}

func acmeServeFlags(f *pflag.FlagSet, o *acmeServeOptions) {
	f.StringSliceVar(&o.domains, "acme-domain", nil,
		"get the HTTPS certificate for this name from an ACME CA (Let's Encrypt by default), renewed automatically (repeatable; not with --tls-cert)")
	f.StringVar(&o.email, "acme-email", "", "contact address of the ACME account (the CA's expiry and policy mail)")
	f.StringVar(&o.directory, "acme-directory", acmecert.DefaultDirectory, "ACME directory URL")
	f.StringVar(&o.httpListen, "acme-http", "",
		"also answer HTTP-01 challenges (and redirect to https) on this address, e.g. :80 (default: TLS-ALPN-01 on --listen only)")
}

// acmeCacheDir is where certificates and the account key are kept, in
// the data dir.
const acmeCacheDir = "acme"

// checkACME refuses flag combinations that cannot work.
func checkACME(o serveOptions) error {
	a := o.acme
	if len(a.domains) == 0 {
		if a.httpListen != "" || a.email != "" {
			return errors.New("--acme-http and --acme-email need --acme-domain")
		}
		return nil
	}
	if o.tlsCert != "" || o.tlsKey != "" {
		return errors.New("--acme-domain and --tls-cert: choose one source for the HTTPS certificate (ACME gets and renews it itself)")
	}
	return nil
}

// newACME returns the certificate manager for o, or nil without
// --acme-domain. links answers which share-domain names are live links.
func newACME(o serveOptions, links *sharelink.Store, log *slog.Logger) (*acmecert.Manager, error) {
	if len(o.acme.domains) == 0 {
		return nil, nil
	}
	cfg := acmecert.Config{
		Domains: o.acme.domains, Email: o.acme.email, Directory: o.acme.directory,
		CacheDir: filepath.Join(o.data, acmeCacheDir), ShareDomain: o.links.shareDomain, Log: log,
	}
	if links != nil {
		cfg.ShareName = func(label string) bool { _, ok := links.ByName(label); return ok }
	}
	m, err := acmecert.New(cfg)
	if err != nil {
		return nil, err
	}
	if o.links.shareDomain != "" {
		log.Warn("with --acme-domain, share links on --share-domain get certificates only by name (NAME.DOMAIN, on first use); "+
			"TOKEN.DOMAIN hosts have none (a wildcard needs DNS-01: use --tls-cert for that)", "share_domain", o.links.shareDomain)
	}
	return m, nil
}

// acmeBaseURL is the gateway's base URL under ACME when --url is not set:
// the first --acme-domain and the listener's port (an IP address has no
// certificate).
func acmeBaseURL(m *acmecert.Manager, addr net.Addr) string {
	host := m.Domains()[0]
	if ta, ok := addr.(*net.TCPAddr); ok && ta.Port != 443 {
		host = net.JoinHostPort(host, strconv.Itoa(ta.Port))
	}
	return "https://" + host
}

// serveACMEHTTP answers HTTP-01 challenges on --acme-http until ctx ends.
func serveACMEHTTP(ctx context.Context, addr string, m *acmecert.Manager, log *slog.Logger, accepts acceptloop.Counter) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--acme-http: %w", err)
	}
	ln = acceptloop.Wrap(ln, "acme-http", log, accepts)
	hs := &http.Server{
		Handler:           m.HTTPHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("--acme-http listener failed", "err", err)
		}
	}()
	log.Info("acme http-01 listening", "addr", ln.Addr().String())
	return nil
}
