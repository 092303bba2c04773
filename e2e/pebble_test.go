package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pebbleOpts configure a test pebble.
type pebbleOpts struct {
	// tlsPort and httpPort are where pebble's validation authority dials
	// the name being validated for TLS-ALPN-01 and HTTP-01.
	tlsPort, httpPort int
	// alwaysValid skips validation (PEBBLE_VA_ALWAYS_VALID=1).
	alwaysValid bool
}

// pebble is Debian's pebble (Let's Encrypt's ACME test server) run by the
// test on loopback with its own config, with pebble-challtestsrv as its
// DNS server: every name resolves to 127.0.0.1, so its validation
// authority really dials the gateway for TLS-ALPN-01 and HTTP-01.
type pebble struct {
	dir       string
	directory string // https://127.0.0.1:PORT/dir
	mgmt      string // https://127.0.0.1:PORT
	tlsCA     string // the CA of pebble's own HTTPS (made by the test)
	proc      *proc
}

var rePebbleListening = regexp.MustCompile(`Listening on: 127\.0\.0\.1:\d+`)

// startPebble starts pebble-challtestsrv (DNS only) and pebble, and waits
// until pebble serves its directory.
func startPebble(t *testing.T, opts pebbleOpts) *pebble {
	t.Helper()
	bin := requirePebble(t)
	dir := shortTempDir(t)
	// pebble's own HTTPS: the Debian package has no test certificates, so
	// the test makes a CA and a certificate for 127.0.0.1.
	tlsCA, cert, key := makeTLSFiles(t, dir)
	dnsPort, mgmtChall := freePort(t), freePort(t)
	startProc(t, "pebble-challtestsrv", nil, filepath.Join(filepath.Dir(bin), "pebble-challtestsrv"),
		"-dns01", fmt.Sprintf("127.0.0.1:%d", dnsPort), "-http01", "", "-https01", "", "-tlsalpn01", "",
		"-management", fmt.Sprintf("127.0.0.1:%d", mgmtChall), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	listen, mgmt := freePort(t), freePort(t)
	conf, err := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", listen),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", mgmt),
		"certificate":                    cert,
		"privateKey":                     key,
		"httpPort":                       opts.httpPort,
		"tlsPort":                        opts.tlsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "pebble.json"), string(conf), 0o644)
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0"}
	if opts.alwaysValid {
		env = append(env, "PEBBLE_VA_ALWAYS_VALID=1")
	}
	waitDial(t, fmt.Sprintf("127.0.0.1:%d", dnsPort), startTimeout) // its TCP DNS listener
	p := &pebble{dir: dir, tlsCA: tlsCA,
		directory: fmt.Sprintf("https://127.0.0.1:%d/dir", listen), mgmt: fmt.Sprintf("https://127.0.0.1:%d", mgmt)}
	p.proc = startProc(t, "pebble", env, bin, "-config", filepath.Join(dir, "pebble.json"),
		"-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort))
	p.proc.mustWaitLine(t, rePebbleListening, startTimeout)
	waitDial(t, fmt.Sprintf("127.0.0.1:%d", listen), startTimeout)
	return p
}

// requirePebble finds pebble and pebble-challtestsrv, failing (not
// skipping) the test when they are missing.
func requirePebble(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("pebble")
	if err == nil {
		_, err = exec.LookPath("pebble-challtestsrv")
	}
	if err != nil {
		t.Fatalf("pebble is required (scripts/install-deps.sh installs Debian's pebble): %v", err)
	}
	return bin
}

// rootPEM fetches the root of the chains pebble issues (made anew at each
// start) from its management endpoint and writes it to a file.
func (p *pebble) rootPEM(t *testing.T) string {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(readFile(t, p.tlsCA))) {
		t.Fatalf("no certificate in %s", p.tlsCA)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(p.mgmt + "/roots/0")
	if err != nil {
		t.Fatalf("pebble /roots/0: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "BEGIN CERTIFICATE") {
		t.Fatalf("pebble /roots/0: %d %v %q", resp.StatusCode, err, body)
	}
	path := filepath.Join(p.dir, "pebble-root.pem")
	writeFile(t, path, string(body), 0o644)
	return path
}

// orders counts the orders pebble was sent (new-order requests in its log).
func (p *pebble) orders() int {
	return len(p.proc.out.linesMatching("/order-plz"))
}

// stop kills pebble: nothing can be issued after this.
func (p *pebble) stop(t *testing.T) {
	t.Helper()
	p.proc.kill()
	select {
	case <-p.proc.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("pebble did not exit after SIGKILL")
	}
}
