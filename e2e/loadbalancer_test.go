package e2e

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Behind a load balancer: Debian's haproxy (haproxy_test.go) in front, on
// loopback, connecting from haproxySource; clients come from other
// 127.0.0.x addresses, and the gateway must see each as itself.

// lbWorld is a world whose gateway trusts haproxy, with haproxy in front
// and the user alice (key and password).
func lbWorld(t *testing.T, extra ...string) (*world, *haproxy) {
	t.Helper()
	args := append([]string{"--trusted-proxy", haproxySource, "--ssh-proxy-protocol"}, extra...)
	w := newWorld(t, gatewayOpts{sshListen: true, args: args})
	w.addUser(t, "alice")
	w.gw.mustCLI(t, "alice-lb-password\n", "user", "set", "alice", "--password-stdin")
	return w, startHAProxy(t, w.gw)
}

// addLBHosts adds alice.lbws (gateway connect ws:// to haproxy) and
// alice.lbtcp (ssh to haproxy's TCP port from 127.0.0.3) to the ssh_config.
func (w *world) addLBHosts(t *testing.T, h *haproxy) {
	t.Helper()
	host, port := splitHostPort(t, h.sshAddr)
	block := fmt.Sprintf("Host alice.lbws\n  HostName gw\n  User alice\n  IdentityFile %[1]s\n  HostKeyAlias gw\n  ProxyCommand %[2]s connect ws://%[3]s/ssh\n"+
		"Host alice.lbtcp\n  HostName %[4]s\n  Port %[5]s\n  User alice\n  IdentityFile %[1]s\n  HostKeyAlias gw\n  BindAddress 127.0.0.3\n",
		filepath.Join(w.dir, "alice"), w.gw.bin, h.httpAddr, host, port)
	writeFile(t, w.config, readFile(t, w.config)+"\n"+block, 0o600)
}

// tubeRemotes returns the remote= of the gateway's tube log lines for transport.
func tubeRemotes(g *gateway, transport string) map[string]int {
	re := regexp.MustCompile(`\bremote="?([^"\s]+).*\btransport=` + transport)
	out := map[string]int{}
	for _, ln := range g.proc.out.linesMatching("tube=") {
		if m := re.FindStringSubmatch(ln); m != nil {
			host, _, err := net.SplitHostPort(m[1])
			if err != nil {
				host = m[1]
			}
			out[host]++
		}
	}
	return out
}

// A real ssh session over the WebSocket through haproxy, and one over TCP
// SSH with send-proxy-v2: the gateway's logs name each client's own
// address, never haproxy's.
func TestLoadBalancerHAProxy(t *testing.T) {
	w, h := lbWorld(t)
	w.addLBHosts(t, h)
	for _, host := range []string{"alice.lbws", "alice.lbtcp"} {
		pub := freePort(t)
		w.remoteForward(t, fmt.Sprintf("%d:localhost:%d", pub, w.target.port), host)
		res := w.sshRun(t, "-J", host, "-p", strconv.Itoa(pub), "localhost", "echo through-haproxy")
		if res.code != 0 || strings.TrimSpace(res.stdout) != "through-haproxy" {
			t.Fatalf("ssh -J %s through haproxy: %s", host, res)
		}
	}
	ws, tcp := tubeRemotes(w.gw, "websocket"), tubeRemotes(w.gw, "tcp")
	t.Logf("tube sources: websocket %v, tcp %v", ws, tcp)
	if ws["127.0.0.1"] == 0 || ws[haproxySource] != 0 {
		t.Errorf("WebSocket tubes through haproxy: sources %v, want the client's 127.0.0.1 and never %s", ws, haproxySource)
	}
	if tcp["127.0.0.3"] == 0 || tcp[haproxySource] != 0 {
		t.Errorf("TCP tubes through haproxy (PROXY v2): sources %v, want the client's 127.0.0.3 and never %s", tcp, haproxySource)
	}
}

// loginStatus posts alice's login with password through client to base.
func loginStatus(t *testing.T, client *http.Client, base, password string, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/login", strings.NewReader(fmt.Sprintf(`{"user":"alice","password":%q}`, password)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST /api/login: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The password throttle counts each client behind haproxy by its own
// address: one that guessed past the budget is held back, another is not.
func TestLoadBalancerThrottlePerClient(t *testing.T) {
	w, h := lbWorld(t)
	guesser, other := httpClientFrom("127.0.0.2"), httpClientFrom("127.0.0.3")
	base := "http://" + h.httpAddr
	for i := 0; i < passwordBudget+1; i++ {
		loginStatus(t, guesser, base, fmt.Sprintf("wrong-%d", i), nil)
	}
	held := loginStatus(t, guesser, base, "alice-lb-password", nil)
	fresh := loginStatus(t, other, base, "alice-lb-password", nil)
	t.Logf("after %d wrong passwords from 127.0.0.2: its right password %d, 127.0.0.3's %d", passwordBudget+1, held, fresh)
	if held == http.StatusOK || fresh != http.StatusOK {
		t.Fatalf("behind haproxy: the guesser's right password got %d (want refused), another client's %d (want 200)", held, fresh)
	}
	w.gw.proc.waitLine(regexp.MustCompile(`remote=127\.0\.0\.2:0`), waitTimeout)
	if n := len(w.gw.proc.out.linesMatching("remote=127.0.0.2:0")); n == 0 {
		t.Errorf("no log line names the guesser 127.0.0.2")
	}
}

// A client sending its own X-Forwarded-For, straight to the gateway from an
// untrusted address or through haproxy, is still logged and throttled as
// the address it connects from.
func TestRedteamSpoofedForwardedFor(t *testing.T) {
	w, h := lbWorld(t)
	spoof := map[string]string{"X-Forwarded-For": "127.0.0.77", "Forwarded": "for=127.0.0.77"}
	direct, viaLB := httpClientFrom("127.0.0.5"), httpClientFrom("127.0.0.6")
	for i := 0; i < 3; i++ {
		loginStatus(t, direct, "http://"+w.gw.httpAddr, "wrong", spoof)
		loginStatus(t, viaLB, "http://"+h.httpAddr, "wrong", spoof)
	}
	// The log lines may trail the answers a moment: wait for all six (bounded).
	for deadline := time.Now().Add(waitTimeout); len(w.gw.proc.out.linesMatching("web login refused")) < 6 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	refused := func(src string) int {
		n := 0
		for _, ln := range w.gw.proc.out.linesMatching("web login refused") {
			if strings.Contains(ln, "remote="+src+":") {
				n++
			}
		}
		return n
	}
	spoofed, asDirect, asLB := refused("127.0.0.77"), refused("127.0.0.5"), refused("127.0.0.6")
	redteam(t, "X-Forwarded-For/Forwarded: 127.0.0.77 on wrong logins, from untrusted 127.0.0.5 and through haproxy from 127.0.0.6",
		"every refusal logged (and throttled) as the real source, none as 127.0.0.77",
		fmt.Sprintf("as 127.0.0.77: %d, as 127.0.0.5: %d of 3, as 127.0.0.6: %d of 3", spoofed, asDirect, asLB))
	if spoofed != 0 || asDirect != 3 || asLB != 3 {
		t.Fatalf("refusals logged as 127.0.0.77 %d, 127.0.0.5 %d, 127.0.0.6 %d; want 0, 3, 3", spoofed, asDirect, asLB)
	}
}

// --max-conns-per-source behind a trusted proxy: the proxy itself is
// exempt (it carries everyone), so each client it relays is held to the
// cap instead. Before, one client could open tubes without end.
func TestRedteamPerClientCapBehindProxy(t *testing.T) {
	const limit = 3
	_, h := lbWorld(t, "--max-conns-per-source", strconv.Itoa(limit))
	var codes []int
	for i := 0; i < limit+1; i++ {
		code, _ := openUpgrade(t, h.httpAddr, "127.0.0.2")
		codes = append(codes, code)
	}
	otherCode, _ := openUpgrade(t, h.httpAddr, "127.0.0.3")
	redteam(t, fmt.Sprintf("%d WebSocket tubes held open from 127.0.0.2 through haproxy, cap %d per source", limit+1, limit),
		fmt.Sprintf("the first %d upgraded, the next 429; another client unaffected", limit),
		fmt.Sprintf("statuses %v; 127.0.0.3: %d", codes, otherCode))
	for i, c := range codes[:limit] {
		if c != http.StatusSwitchingProtocols {
			t.Errorf("upgrade %d from 127.0.0.2: %d, want 101", i+1, c)
		}
	}
	if codes[limit] != http.StatusTooManyRequests {
		t.Errorf("upgrade %d from 127.0.0.2 past the cap: %d, want 429", limit+1, codes[limit])
	}
	if otherCode != http.StatusSwitchingProtocols {
		t.Errorf("127.0.0.3 behind the same proxy: %d, want 101", otherCode)
	}
}

// --ssh-proxy-protocol: a PROXY header from an address that is not a
// trusted proxy is refused (it would let anyone claim any address), and so
// is a trusted proxy's connection without one.
func TestRedteamProxyProtocolUntrusted(t *testing.T) {
	w, _ := lbWorld(t)
	try := func(src, first string) (string, error) {
		c, err := dialerFrom(src).Dial("tcp", w.gw.sshAddr)
		if err != nil {
			t.Fatalf("dial from %s: %v", src, err)
		}
		defer c.Close()
		c.Write([]byte(first))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var got []byte
		buf := make([]byte, 512)
		for {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				return string(got), err
			}
		}
	}
	spoofOut, spoofErr := try("127.0.0.5", "PROXY TCP4 127.0.0.77 127.0.0.1 5555 22\r\nSSH-2.0-OpenSSH_9.2\r\n")
	bareOut, bareErr := try(haproxySource, "SSH-2.0-OpenSSH_9.2\r\n")
	// The log lines may trail the closes a moment: wait for them (bounded).
	w.gw.proc.waitLine(regexp.MustCompile("PROXY header from an address that is not a trusted proxy"), waitTimeout)
	w.gw.proc.waitLine(regexp.MustCompile("trusted proxy sent no valid PROXY header"), waitTimeout)
	untrustedLogged := len(w.gw.proc.out.linesMatching("PROXY header from an address that is not a trusted proxy"))
	bareLogged := len(w.gw.proc.out.linesMatching("trusted proxy sent no valid PROXY header"))
	spoofTube := len(w.gw.proc.out.linesMatching("remote=127.0.0.77"))
	redteam(t, "PROXY v1 header claiming 127.0.0.77 on --ssh-listen from untrusted 127.0.0.5; a bare SSH banner from the trusted proxy",
		"both closed and logged; no tube ever from 127.0.0.77",
		fmt.Sprintf("spoof closed (%v), logged %d; bare closed (%v), logged %d; tubes as 127.0.0.77: %d",
			spoofErr != nil, untrustedLogged, bareErr != nil, bareLogged, spoofTube))
	if untrustedLogged != 1 || bareLogged != 1 || spoofTube != 0 {
		t.Errorf("refusals logged: untrusted header %d, trusted without header %d (want 1 and 1); tubes as 127.0.0.77: %d\nspoof got %q\nbare got %q",
			untrustedLogged, bareLogged, spoofTube, spoofOut, bareOut)
	}
}
