package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// haproxySource is the address Debian's haproxy (run by the test) connects
// to the gateway from: the gateway trusts it (--trusted-proxy), and tells
// it apart from the clients, which come from other loopback addresses.
const haproxySource = "127.0.0.9"

// haproxy is Debian's haproxy in front of a gateway, on loopback, with its
// own config in a temp dir: HTTP (WebSocket upgrades included) with
// X-Forwarded-For, and TCP to --ssh-listen with a PROXY v2 header.
type haproxy struct {
	httpAddr, sshAddr string // where clients connect
	proc              *proc
}

// startHAProxy puts haproxy in front of g (whose sshAddr may be empty).
func startHAProxy(t *testing.T, g *gateway) *haproxy {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy"
	}
	if _, err := exec.LookPath(bin); err != nil {
		t.Fatalf("haproxy is required (scripts/install-deps.sh installs Debian's haproxy): %v", err)
	}
	dir := shortTempDir(t)
	h := &haproxy{httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	var conf strings.Builder
	conf.WriteString(haproxyHeader(dir))
	fmt.Fprintf(&conf, `frontend web
	mode http
	bind %[1]s
	option forwardfor
	default_backend gw
backend gw
	mode http
	source %[2]s
	server gw %[3]s
`, h.httpAddr, haproxySource, g.httpAddr)
	if g.sshAddr != "" {
		h.sshAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		fmt.Fprintf(&conf, `frontend ssh
	mode tcp
	bind %[1]s
	default_backend gwssh
backend gwssh
	mode tcp
	source %[2]s
	server gw %[3]s send-proxy-v2
`, h.sshAddr, haproxySource, g.sshAddr)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, cfg, conf.String(), 0o644)
	if res := runProgram(t, cmdTimeout, "", nil, bin, "-c", "-f", cfg); res.code != 0 {
		t.Fatalf("haproxy -c: %s", res)
	}
	h.proc = startProc(t, "haproxy", nil, bin, "-db", "-f", cfg)
	waitDial(t, h.httpAddr, startTimeout)
	if h.sshAddr != "" {
		waitDial(t, h.sshAddr, startTimeout)
	}
	return h
}

// haproxyHeader is the start of every haproxy.cfg the tests write: the pid file in dir, and
// timeouts that leave long-lived tunnels (WebSocket, SSH) alone.
func haproxyHeader(dir string) string {
	return fmt.Sprintf(`global
	pidfile %s/haproxy.pid
defaults
	timeout connect 5s
	timeout client 60s
	timeout server 60s
	timeout tunnel 1h
`, dir)
}

// dialerFrom dials from a loopback source address of its own, so that the
// gateway can tell this client from others.
func dialerFrom(src string) *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
}

// httpClientFrom is an HTTP client whose connections come from src.
func httpClientFrom(src string) *http.Client {
	return &http.Client{Timeout: cmdTimeout, Transport: &http.Transport{DialContext: dialerFrom(src).DialContext, DisableKeepAlives: true}}
}

// openUpgrade sends a WebSocket upgrade for /ssh to addr from src and
// returns the answer's status and the connection, left open (the tube
// waits for an SSH handshake).
func openUpgrade(t *testing.T, addr, src string) (int, net.Conn) {
	t.Helper()
	c, err := dialerFrom(src).Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /ssh HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("upgrade from %s: %v", src, err)
	}
	c.SetReadDeadline(time.Time{})
	return resp.StatusCode, c
}
