package e2e

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The native client, `gateway tunnel` (issue 9, section 2), against the built gateway.

var (
	reTunnelUp   = regexp.MustCompile(`msg="tunnel up"`)
	reTunnelDown = regexp.MustCompile(`msg="tunnel down"`)
)

// tunnelArgs are the flags every test's tunnel runs with: user NAME with its key from the world,
// its own known-hosts file, no ssh-agent unless the test sets one.
func (w *world) tunnelArgs(name string) []string {
	return []string{"tunnel", "--user", name, "--key", filepath.Join(w.dir, name),
		"--known-hosts", filepath.Join(w.dir, "tunnel_known_hosts")}
}

// startTunnel runs `gateway tunnel ARGS...` in the background and waits for "tunnel up".
func (w *world) startTunnel(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := startProc(t, "gateway tunnel", append([]string{"SSH_AUTH_SOCK="}, env...), w.gw.bin, args...)
	p.mustWaitLine(t, reTunnelUp, startTimeout)
	return p
}

// runTunnelToExit runs `gateway tunnel ARGS...` that must exit on its own, and returns its result.
func (w *world) runTunnelToExit(t *testing.T, args ...string) result {
	t.Helper()
	return runProgram(t, startTimeout, "", []string{"SSH_AUTH_SOCK="}, w.gw.bin, args...)
}

// sshVia runs `ssh -J JUMP HOST 'echo ok'`.
func (w *world) sshVia(t *testing.T, jump, host string) result {
	t.Helper()
	return runProgram(t, cmdTimeout, "", nil, w.tl.ssh, "-F", w.config, "-J", jump, host, "echo ok")
}

// TestTunnelSurvivesGatewayRestart (issue 9, result 4): `gateway tunnel -R myhost:22:SSHD` keeps
// the name published across a gateway restart on the same port and data dir: a real `ssh -J`
// to the name logs in again within 5 s of the gateway being back.
func TestTunnelSurvivesGatewayRestart(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "alice", "--permit-name", "myhost")
	spec := fmt.Sprintf("myhost:22:127.0.0.1:%d", w.target.port)
	tun := w.startTunnel(t, nil, append(w.tunnelArgs("alice"), "-R", spec, w.gw.wsURL())...)
	if res := w.sshVia(t, "alice.ws", "myhost"); res.code != 0 || strings.TrimSpace(res.stdout) != "ok" {
		t.Fatalf("ssh -J alice.ws myhost through the tunnel's name: %s", res)
	}

	addr := w.gw.httpAddr
	w.gw.stop(t)
	tun.mustWaitLine(t, reTunnelDown, startTimeout)
	opts := w.gw.opts
	opts.args = append(append([]string(nil), opts.args...), "--listen", addr)
	w.gw = startGateway(t, w.gw.dataDir, opts)
	back := time.Now()
	if w.gw.httpAddr != addr {
		t.Fatalf("the gateway came back on %s, not %s", w.gw.httpAddr, addr)
	}
	const bound = 5 * time.Second
	var last result
	for time.Since(back) < bound {
		if last = w.sshVia(t, "alice.ws", "myhost"); last.code == 0 && strings.TrimSpace(last.stdout) == "ok" {
			t.Logf("myhost reachable again %v after the gateway was back", time.Since(back).Round(time.Millisecond))
			if ups := tun.out.linesMatching(`msg="tunnel up"`); len(ups) != 2 {
				t.Errorf("want 2 \"tunnel up\" lines, got %d", len(ups))
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("myhost not reachable within %v of the gateway being back: %s\n--- tunnel\n%s", bound, last, tun.out)
}

// startHello serves "hello from PORT" on a loopback port and returns the port.
func startHello(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(rw, "hello from %d\n", port)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return port
}

// TestTunnelSOCKS (issue 9, result 5): `gateway tunnel -D` carries `curl --socks5-hostname` to a
// destination alice's --permit-open allows, and curl reports the SOCKS refusal for one it does not.
func TestTunnelSOCKS(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	allowed, denied := startHello(t), startHello(t)
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", allowed))
	socks := freePort(t)
	w.startTunnel(t, nil, append(w.tunnelArgs("alice"), "-D", fmt.Sprint(socks), w.gw.wsURL())...)
	proxy := fmt.Sprintf("127.0.0.1:%d", socks)

	res := runProgram(t, cmdTimeout, "", nil, "curl", "-sS", "--max-time", "10", "--socks5-hostname", proxy,
		fmt.Sprintf("http://127.0.0.1:%d/", allowed))
	if res.code != 0 || strings.TrimSpace(res.stdout) != fmt.Sprintf("hello from %d", allowed) {
		t.Fatalf("curl through -D to a permitted destination: %s", res)
	}
	res = runProgram(t, cmdTimeout, "", nil, "curl", "-sS", "--max-time", "10", "--socks5-hostname", proxy,
		fmt.Sprintf("http://127.0.0.1:%d/", denied))
	// curl names the SOCKS reply code: 2 is "connection not allowed by ruleset".
	if res.code == 0 || !strings.Contains(res.stderr, "SOCKS5") || !strings.Contains(res.stderr, "(2)") || strings.Contains(res.stdout, "hello") {
		t.Fatalf("curl through -D to an unpermitted destination: want SOCKS reply 2 (not allowed): %s", res)
	}
	t.Logf("curl on the refusal: %s", strings.TrimSpace(res.stderr))
}

// TestTunnelLocal: -L listens here and carries connections to a permitted destination, over the
// WebSocket and over --ssh-listen (ssh://).
func TestTunnelLocal(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	echo := startEcho(t)
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", echo))
	for _, url := range []string{w.gw.wsURL(), "ssh://" + w.gw.sshAddr} {
		port := freePort(t)
		w.startTunnel(t, nil, append(w.tunnelArgs("alice"), "-L", fmt.Sprintf("%d:127.0.0.1:%d", port, echo), url)...)
		requireEcho(t, fmt.Sprintf("127.0.0.1:%d", port))
	}
}

// TestTunnelStdio: -W as ssh's ProxyCommand logs in to the throw-away sshd, and exits with it.
func TestTunnelStdio(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", w.target.port))
	pc := fmt.Sprintf("%s %s -W 127.0.0.1:%d %s", w.gw.bin, strings.Join(w.tunnelArgs("alice"), " "), w.target.port, w.gw.wsURL())
	res := runProgram(t, cmdTimeout, "", []string{"SSH_AUTH_SOCK="}, w.tl.ssh, "-F", w.config, "-o", "ProxyCommand="+pc, "localhost", "echo ok")
	if res.code != 0 || strings.TrimSpace(res.stdout) != "ok" {
		t.Fatalf("ssh with `gateway tunnel -W` as ProxyCommand: %s", res)
	}
}

// TestTunnelConfigFile: the forwards and settings come from a TOML --config file.
func TestTunnelConfigFile(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	echo := startEcho(t)
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", echo))
	port := freePort(t)
	cfg := filepath.Join(w.dir, "tunnel.toml")
	writeFile(t, cfg, fmt.Sprintf("url = %q\nuser = \"alice\"\nkey = %q\nknown_hosts = %q\nkeepalive = \"5s\"\nlocal = [\"%d:127.0.0.1:%d\"]\n",
		w.gw.wsURL(), filepath.Join(w.dir, "alice"), filepath.Join(w.dir, "kh"), port, echo), 0o600)
	w.startTunnel(t, nil, "tunnel", "--config", cfg)
	requireEcho(t, fmt.Sprintf("127.0.0.1:%d", port))

	writeFile(t, cfg, "url = \"ws://x/ssh\"\nforwards = [\"1\"]\n", 0o600)
	if res := w.runTunnelToExit(t, "tunnel", "--config", cfg); res.code == 0 || !strings.Contains(res.stderr, `unknown setting "forwards"`) {
		t.Errorf("a config file with an unknown setting: want a non-zero exit naming it: %s", res)
	}
}

// TestTunnelKnownHosts: the gateway's host key is pinned on first use, and a tunnel whose pinned
// key differs exits non-zero at once, showing both fingerprints and the line to remove.
func TestTunnelKnownHosts(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	echo := startEcho(t)
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", echo))
	args := append(w.tunnelArgs("alice"), "-L", fmt.Sprintf("%d:127.0.0.1:%d", freePort(t), echo), w.gw.wsURL())
	tun := w.startTunnel(t, nil, args...)
	tun.kill()
	<-tun.done
	kh := filepath.Join(w.dir, "tunnel_known_hosts")
	pinned := readFile(t, kh)
	found := false
	for _, k := range w.gw.hostKeyPubs(t) {
		f := strings.Fields(k)
		found = found || strings.Contains(pinned, f[0]+" "+f[1])
	}
	if !found || !strings.HasPrefix(pinned, "["+strings.Replace(w.gw.httpAddr, ":", "]:", 1)+" ") {
		t.Fatalf("known-hosts after first use: want a line for [host]:port with one of the gateway's keys:\n%s", pinned)
	}
	again := append(w.tunnelArgs("alice"), "-W", "127.0.0.1:1", w.gw.wsURL())
	if res := w.runTunnelToExit(t, again...); strings.Contains(res.stderr, "pinned") || strings.Contains(res.stderr, "has changed") ||
		!strings.Contains(res.stderr, "not permitted by your policy") {
		t.Fatalf("a second run against the same gateway: want no word on its key, and -W refused by policy: %s", res)
	}
}

// TestRedteamTunnelChangedHostKey: a gateway (or someone in the middle) showing another key than
// the one pinned is refused at once, with both fingerprints and the line to remove.
func TestRedteamTunnelChangedHostKey(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "alice")
	genKey(t, w.tl, filepath.Join(w.dir, "impostor"))
	impostor := strings.Fields(readFile(t, filepath.Join(w.dir, "impostor.pub")))
	kh := filepath.Join(w.dir, "tunnel_known_hosts")
	host := "[" + strings.Replace(w.gw.httpAddr, ":", "]:", 1)
	writeFile(t, kh, fmt.Sprintf("%s %s %s\n", host, impostor[0], impostor[1]), 0o600)
	start := time.Now()
	res := w.runTunnelToExit(t, append(w.tunnelArgs("alice"), "-L", fmt.Sprintf("%d:127.0.0.1:9", freePort(t)), w.gw.wsURL())...)
	took := time.Since(start)
	fps := regexp.MustCompile(`SHA256:[A-Za-z0-9+/]+`).FindAllString(res.stderr, -1)
	redteam(t, "gateway tunnel to a gateway whose host key differs from the pinned one",
		"exit non-zero at once, both fingerprints, the line to remove",
		fmt.Sprintf("exit %d after %v, %d fingerprints", res.code, took.Round(time.Millisecond), len(fps)))
	if res.code == 0 || !strings.Contains(res.stderr, "has changed") || len(fps) < 2 || fps[0] == fps[1] ||
		!strings.Contains(res.stderr, "line 1 of "+kh) {
		t.Fatalf("want a non-zero exit naming the changed key, both fingerprints and line 1 of %s: %s", kh, res)
	}
	if n := strings.Count(res.stderr, `msg=connecting`); n != 1 {
		t.Errorf("want one connection attempt, saw %d", n)
	}
}

// TestTunnelBadCredentials: a key the gateway does not know exits non-zero after one attempt.
func TestTunnelBadCredentials(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "alice")
	genKey(t, w.tl, filepath.Join(w.dir, "stranger"))
	args := []string{"tunnel", "--user", "alice", "--key", filepath.Join(w.dir, "stranger"),
		"--known-hosts", filepath.Join(w.dir, "kh"), "-L", fmt.Sprintf("%d:127.0.0.1:9", freePort(t)), w.gw.wsURL()}
	res := w.runTunnelToExit(t, args...)
	if res.code == 0 || !strings.Contains(res.stderr, "bad credentials") || strings.Count(res.stderr, "msg=connecting") != 1 {
		t.Fatalf("want a non-zero exit after one attempt, saying bad credentials: %s", res)
	}
}

// TestRedteamTunnelForwardRefused: a -R the user's policy does not allow (another user's virtual
// name) makes the tunnel exit non-zero at once instead of retrying forever.
func TestRedteamTunnelForwardRefused(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	w.addUser(t, "alice")
	res := w.runTunnelToExit(t, append(w.tunnelArgs("alice"), "-R", "web.bob:80:127.0.0.1:9", w.gw.wsURL())...)
	attempts := strings.Count(res.stderr, "msg=connecting")
	redteam(t, "gateway tunnel -R publishing another user's name (web.bob)",
		"refused; the tunnel exits non-zero at once", fmt.Sprintf("exit %d after %d attempt(s)", res.code, attempts))
	if res.code == 0 || !strings.Contains(res.stderr, "refused") || attempts != 1 {
		t.Fatalf("want a non-zero exit after one attempt, saying the forward was refused: %s", res)
	}
}

// TestTunnelAgent: with no --key, the tunnel logs in with a key held by a real ssh-agent.
func TestTunnelAgent(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	echo := startEcho(t)
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", echo))
	sock := filepath.Join(w.dir, "agent.sock")
	agent := startProc(t, "ssh-agent", nil, "ssh-agent", "-D", "-a", sock)
	waitSocket(t, sock, agent)
	env := []string{"SSH_AUTH_SOCK=" + sock}
	if res := runProgram(t, cmdTimeout, "", env, "ssh-add", filepath.Join(w.dir, "alice")); res.code != 0 {
		t.Fatalf("ssh-add: %s", res)
	}
	port := freePort(t)
	w.startTunnel(t, env, "tunnel", "--user", "alice", "--known-hosts", filepath.Join(w.dir, "kh"),
		"-L", fmt.Sprintf("%d:127.0.0.1:%d", port, echo), w.gw.wsURL())
	requireEcho(t, fmt.Sprintf("127.0.0.1:%d", port))
}

// waitSocket waits until a unix socket at path accepts connections.
func waitSocket(t *testing.T, path string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) && !p.exited() {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s is not listening on %s\n%s", p.name, path, p.out)
}

// TestTunnelLocalWaitsForReconnect: a -L listener stays open while the gateway is away, and a
// connection made then waits for the tunnel to reconnect and goes through.
func TestTunnelLocalWaitsForReconnect(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	echo := startEcho(t)
	w.addUser(t, "alice", "--permit-open", fmt.Sprintf("127.0.0.1:%d", echo))
	port := freePort(t)
	tun := w.startTunnel(t, nil, append(w.tunnelArgs("alice"), "-L", fmt.Sprintf("%d:127.0.0.1:%d", port, echo), w.gw.wsURL())...)
	local := fmt.Sprintf("127.0.0.1:%d", port)
	requireEcho(t, local)

	addr := w.gw.httpAddr
	w.gw.stop(t)
	tun.mustWaitLine(t, reTunnelDown, startTimeout)
	done := make(chan error, 1)
	go func() { done <- echoRoundTrip(local, 4096, 20*time.Second) }()
	opts := w.gw.opts
	opts.args = append(append([]string(nil), opts.args...), "--listen", addr)
	w.gw = startGateway(t, w.gw.dataDir, opts)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("a connection made to -L while the gateway was away: %v\n--- tunnel\n%s", err, tun.out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the round trip through -L did not end")
	}
}
