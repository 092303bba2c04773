package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Certificates from ACME, against Debian's pebble (pebble_test.go) with
// real validation: pebble's DNS says every name is 127.0.0.1 and its
// validation authority dials the gateway. Clients reach the gateway by
// its name, gw.tubegate.test, through squid (the only resolver that knows
// it, squid_test.go), or by dialing 127.0.0.1 with that name as SNI.

var (
	reACMEReady     = regexp.MustCompile(`msg="acme certificate ready".*\bserial=(\w+)`)
	reACMEFromCache = regexp.MustCompile(`msg="acme certificate from the cache"`)
	reACMEIssued    = regexp.MustCompile(`msg="acme certificate issued and cached"`)
	reACMEHTTP01    = regexp.MustCompile(`msg="acme http-01 challenge"`)
)

// acmeArgs are the serve flags for a gateway on 127.0.0.1:port named
// proxyGatewayName with its certificate from p.
func acmeArgs(p *pebble, port int, extra ...string) gatewayOpts {
	return gatewayOpts{
		args: append([]string{"--listen", fmt.Sprintf("127.0.0.1:%d", port),
			"--acme-domain", proxyGatewayName, "--acme-directory", p.directory, "--acme-email", "ops@tubegate.test"}, extra...),
		// The gateway trusts pebble's own HTTPS as it would a private CA's
		// (Go reads SSL_CERT_FILE in place of the system roots).
		env: []string{"SSL_CERT_FILE=" + p.tlsCA},
	}
}

// servedCert does a TLS handshake with 127.0.0.1:port for sni, verifying
// the chain against root, and returns the leaf.
func servedCert(t *testing.T, port int, sni, root string) (*x509.Certificate, error) {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(readFile(t, root))) {
		t.Fatalf("no certificate in %s", root)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{ServerName: sni, RootCAs: pool})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

// addACMEHost adds to the ssh_config the host alias: user alice through
// squid to wss://gw.tubegate.test:PORT/ssh, trusting root with --ca.
func (w *world) addACMEHost(t *testing.T, alias string, sq *squid, port int, root string) {
	t.Helper()
	cmd := fmt.Sprintf("env HTTPS_PROXY=%s %s connect --ca %s wss://%s:%d/ssh", sq.URL(true), w.gw.bin, root, proxyGatewayName, port)
	block := fmt.Sprintf("Host %s\n  HostName gw\n  User alice\n  IdentityFile %s\n  HostKeyAlias gw\n  ProxyCommand %s\n",
		alias, filepath.Join(w.dir, "alice"), cmd)
	writeFile(t, w.config, readFile(t, w.config)+"\n"+block, 0o600)
}

// TLS-ALPN-01 on the HTTPS listener: the gateway obtains its certificate
// at start, serves wss:// with it, `gateway connect --ca pebble-root.pem`
// carries a real ssh session, and after a restart with pebble gone the
// same certificate comes from the cache in the data dir.
func TestACMETLSALPN(t *testing.T) {
	port := freePort(t)
	p := startPebble(t, pebbleOpts{tlsPort: port, httpPort: freePort(t)}) // nothing listens for HTTP-01
	opts := acmeArgs(p, port, "--url", fmt.Sprintf("https://%s:%d", proxyGatewayName, port),
		"--share-domain", "links.tubegate-share.test")
	w := newWorld(t, opts)
	serial := w.gw.proc.mustWaitLine(t, reACMEReady, 2*startTimeout)[1]
	w.gw.proc.mustWaitLine(t, reACMEIssued, startTimeout)
	root := p.rootPEM(t)
	leaf, err := servedCert(t, port, proxyGatewayName, root)
	if err != nil {
		t.Fatalf("TLS to the gateway as %s with pebble's root: %v", proxyGatewayName, err)
	}
	if got := leaf.SerialNumber.Text(16); got != serial {
		t.Fatalf("served certificate serial %s, logged %s", got, serial)
	}
	ordersBefore := p.orders()
	t.Logf("issued by %q, serial %s, %d order(s)", leaf.Issuer.CommonName, serial, ordersBefore)
	if ordersBefore < 1 {
		t.Fatalf("pebble logged no order; its log:\n%s", p.proc.out)
	}

	// A token's host never gets a certificate (it would be published in
	// CT logs), nor does a name the gateway does not own.
	for _, host := range []string{"k3jx8c2mq7ZZtokenlike.links.tubegate-share.test", "other.tubegate.test"} {
		if _, err := servedCert(t, port, host, root); err == nil {
			t.Errorf("TLS for %s: a certificate was served", host)
		}
	}
	if n := p.orders(); n != ordersBefore {
		t.Errorf("pebble got %d more order(s) for names the gateway must not ask for", n-ordersBefore)
	}

	w.addUser(t, "alice")
	sq := startSquid(t, squidOpts{allowPort: port})
	w.addACMEHost(t, "alice.acme", sq, port, root)
	requireSessionThroughProxy(t, w, sq, "alice.acme")

	// Restart with pebble stopped: the certificate can only come from the cache.
	w.gw.stop(t)
	p.stop(t)
	w.gw = startGateway(t, w.gw.dataDir, opts)
	again := w.gw.proc.mustWaitLine(t, reACMEReady, startTimeout)[1]
	w.gw.proc.mustWaitLine(t, reACMEFromCache, startTimeout)
	if again != serial {
		t.Fatalf("after a restart the gateway serves serial %s, want the cached %s", again, serial)
	}
	if leaf, err := servedCert(t, port, proxyGatewayName, root); err != nil || leaf.SerialNumber.Text(16) != serial {
		t.Fatalf("after a restart: TLS as %s: %v (serial %v)", proxyGatewayName, err, leaf)
	}
	requireSessionThroughProxy(t, w, sq, "alice.acme")
	if files, _ := filepath.Glob(filepath.Join(w.gw.dataDir, "acme", "*")); len(files) == 0 {
		t.Errorf("nothing cached in the data dir's acme/")
	}
}

// HTTP-01 on --acme-http when TLS-ALPN-01 cannot be reached: pebble's
// validation authority fetches the token from the port-80 listener, and
// that listener sends every other GET to https.
func TestACMEHTTP01(t *testing.T) {
	port, httpPort := freePort(t), freePort(t)
	p := startPebble(t, pebbleOpts{tlsPort: freePort(t), httpPort: httpPort}) // TLS-ALPN-01 dials a closed port
	w := newWorld(t, acmeArgs(p, port, "--acme-http", fmt.Sprintf("127.0.0.1:%d", httpPort)))
	serial := w.gw.proc.mustWaitLine(t, reACMEReady, 2*startTimeout)[1]
	w.gw.proc.mustWaitLine(t, reACMEHTTP01, startTimeout)
	root := p.rootPEM(t)
	leaf, err := servedCert(t, port, proxyGatewayName, root)
	if err != nil || leaf.SerialNumber.Text(16) != serial {
		t.Fatalf("TLS as %s: %v", proxyGatewayName, err)
	}
	t.Logf("issued over http-01: serial %s, %d order(s)", serial, p.orders())

	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/hello", httpPort), nil)
	req.Host = proxyGatewayName
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET on --acme-http: %v", err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "https://"+proxyGatewayName) {
		t.Fatalf("GET on --acme-http: %d Location %q, want a redirect to https", resp.StatusCode, loc)
	}
}
