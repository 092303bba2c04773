package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// gatewayOpts selects the optional listeners of `gateway serve`.
type gatewayOpts struct {
	sshListen       bool     // also serve native SSH on --ssh-listen 127.0.0.1:0
	tlsCert, tlsKey string   // serve HTTPS / wss:// with these PEM files
	caFile          string   // CA that signed tlsCert; the test's HTTP client trusts it
	args            []string // more `gateway serve` flags
	env             []string // more environment for the process
	fdLimit         int      // run under this hard and soft RLIMIT_NOFILE (0: inherited)
}

// gateway is a running `gateway serve`.
type gateway struct {
	bin      string
	dataDir  string
	opts     gatewayOpts
	httpAddr string            // from `msg="http listening" addr=...`
	sshAddr  string            // from `msg="ssh listening" addr=...`, when opts.sshListen
	hostKeys map[string]string // key type -> SHA256 fingerprint, from `msg="host key"` lines
	proc     *proc
}

var (
	reHTTPListening = regexp.MustCompile(`msg="http listening".*\baddr="?([^"\s]+)`)
	reSSHListening  = regexp.MustCompile(`msg="ssh listening".*\baddr="?([^"\s]+)`)
	reHostKey       = regexp.MustCompile(`msg="host key".*\btype="?([^"\s]+).*\bfingerprint="?(SHA256:[^"\s]+)`)
)

// startGateway runs `gateway serve` on loopback ports chosen by the kernel with dataDir and waits
// until it logs its listening addresses.
func startGateway(t *testing.T, dataDir string, opts gatewayOpts) *gateway {
	t.Helper()
	bin := requireGatewayBinary(t)
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data", dataDir}
	if opts.sshListen {
		args = append(args, "--ssh-listen", "127.0.0.1:0")
	}
	if opts.tlsCert != "" {
		args = append(args, "--tls-cert", opts.tlsCert, "--tls-key", opts.tlsKey)
	}
	args = append(args, opts.args...)
	g := &gateway{bin: bin, dataDir: dataDir, opts: opts, hostKeys: map[string]string{}}
	if opts.fdLimit > 0 {
		// A hard limit, so that the gateway's raise to the hard limit stays under it.
		shArgs := append([]string{"-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, opts.fdLimit), bin}, args...)
		g.proc = startProc(t, "gateway serve", opts.env, "/bin/sh", shArgs...)
	} else {
		g.proc = startProc(t, "gateway serve", opts.env, bin, args...)
	}
	g.httpAddr = g.proc.mustWaitLine(t, reHTTPListening, startTimeout)[1]
	if opts.sshListen {
		g.sshAddr = g.proc.mustWaitLine(t, reSSHListening, startTimeout)[1]
	}
	lines, _ := g.proc.out.snapshot()
	for _, ln := range lines {
		if m := reHostKey.FindStringSubmatch(ln); m != nil {
			g.hostKeys[m[1]] = m[2]
		}
	}
	if len(g.hostKeys) < 2 {
		t.Fatalf("want `msg=\"host key\"` lines for ed25519 and ecdsa/rsa before the listeners are up, got %v\n%s", g.hostKeys, g.proc.out)
	}
	return g
}

// scheme returns "https" under TLS, else "http".
func (g *gateway) scheme() string {
	if g.opts.tlsCert != "" {
		return "https"
	}
	return "http"
}

// wsURL returns the ws:// or wss:// URL of the SSH WebSocket.
func (g *gateway) wsURL() string {
	if g.opts.tlsCert != "" {
		return "wss://" + g.httpAddr + "/ssh"
	}
	return "ws://" + g.httpAddr + "/ssh"
}

// httpClient returns a client that trusts the test CA under TLS.
func (g *gateway) httpClient(t *testing.T) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	if g.opts.caFile != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(readFile(t, g.opts.caFile))) {
			t.Fatalf("no certificate in %s", g.opts.caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// requireHealthy fails unless the process is running and GET /healthz answers 200.
func (g *gateway) requireHealthy(t *testing.T) {
	t.Helper()
	if g.proc.exited() {
		t.Fatalf("gateway exited (%v)", g.proc.waitErr)
	}
	url := g.scheme() + "://" + g.httpAddr + "/healthz"
	resp, err := g.httpClient(t).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, want 200", url, resp.StatusCode)
	}
}

// stop sends SIGTERM and requires a clean exit (code 0) within 15 seconds.
func (g *gateway) stop(t *testing.T) {
	t.Helper()
	if err := g.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM gateway: %v", err)
	}
	if code := g.proc.waitExit(t, 15*time.Second); code != 0 {
		t.Fatalf("gateway exited with %d after SIGTERM, want 0 (%v)\n%s", code, g.proc.waitErr, g.proc.out)
	}
}

// cli runs `gateway ARGS... --data DIR` and returns its result.
func (g *gateway) cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runProgram(t, cmdTimeout, stdin, nil, g.bin, append(args, "--data", g.dataDir)...)
}

// mustCLI is cli that requires exit code 0.
func (g *gateway) mustCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	res := g.cli(t, stdin, args...)
	if res.code != 0 {
		t.Fatalf("gateway CLI failed: %s", res)
	}
	return res
}

// hostKeyPubs returns the public host keys the gateway keeps in its data dir.
func (g *gateway) hostKeyPubs(t *testing.T) []string {
	t.Helper()
	var keys []string
	for _, name := range []string{"host_ed25519_key.pub", "host_ecdsa_key.pub"} {
		path := filepath.Join(g.dataDir, name)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("gateway host key: %v", err)
		}
		keys = append(keys, strings.TrimSpace(readFile(t, path)))
	}
	return keys
}

// checkHostKeyFiles requires the private host keys to be mode 0600 and the logged fingerprints to
// match the public keys in the data dir.
func (g *gateway) checkHostKeyFiles(t *testing.T, tl tools) {
	t.Helper()
	for _, name := range []string{"host_ed25519_key", "host_ecdsa_key"} {
		st, err := os.Stat(filepath.Join(g.dataDir, name))
		if err != nil {
			t.Fatalf("gateway host key: %v", err)
		}
		if mode := st.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, mode)
		}
		res := runProgram(t, cmdTimeout, "", nil, tl.sshKeygen, "-l", "-E", "sha256", "-f", filepath.Join(g.dataDir, name+".pub"))
		if res.code != 0 {
			t.Fatalf("ssh-keygen -l: %s", res)
		}
		fields := strings.Fields(res.stdout)
		if len(fields) < 2 {
			t.Fatalf("ssh-keygen -l printed %q", res.stdout)
		}
		found := false
		for _, fp := range g.hostKeys {
			found = found || fp == fields[1]
		}
		if !found {
			t.Errorf("fingerprint %s of %s is not among the logged host keys %v", fields[1], name, g.hostKeys)
		}
	}
}

// String names the gateway in messages.
func (g *gateway) String() string {
	return fmt.Sprintf("gateway(http=%s ssh=%s data=%s)", g.httpAddr, g.sshAddr, g.dataDir)
}
