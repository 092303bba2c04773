package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The gateway from a restricted network: clients behind Debian's squid,
// which lets only CONNECT out, only to the gateway's port, only with
// credentials (squid_test.go). The gateway's name resolves only in squid.

// proxyWorld is a world whose gateway the squid lets through to, with the
// user alice. The gateway's --url names it proxyGatewayName, so that it
// answers requests for that host.
func proxyWorld(t *testing.T, opts gatewayOpts, sq squidOpts) (*world, *squid) {
	t.Helper()
	scheme := "http"
	if opts.tlsCert != "" {
		scheme = "https"
	}
	opts.args = append(opts.args, "--url", scheme+"://"+proxyGatewayName)
	w := newWorld(t, opts)
	w.addUser(t, "alice")
	_, port := splitHostPort(t, w.gw.httpAddr)
	sq.allowPort, _ = strconv.Atoi(port)
	return w, startSquid(t, sq)
}

// proxyURL returns the gateway's WebSocket URL by the name only squid knows.
func (w *world) proxyURL(t *testing.T) string {
	t.Helper()
	_, port := splitHostPort(t, w.gw.httpAddr)
	scheme := "ws"
	if w.gw.opts.tlsCert != "" {
		scheme = "wss"
	}
	return fmt.Sprintf("%s://%s:%s/ssh", scheme, proxyGatewayName, port)
}

// addProxyHost adds to the ssh_config the host alias, logging in to the
// gateway as user alice over `gateway connect URL` with env (HTTP_PROXY=…,
// HTTPS_PROXY=…) and the world's --ca, and connectArgs (--no-resume).
// Call it after the last addUser, which rewrites the file.
func (w *world) addProxyHost(t *testing.T, alias, env string, connectArgs ...string) {
	t.Helper()
	cmd := fmt.Sprintf("env %s %s connect %s", env, w.gw.bin, w.proxyURL(t))
	if len(connectArgs) > 0 {
		cmd += " " + strings.Join(connectArgs, " ")
	}
	if w.gw.opts.caFile != "" {
		cmd += " --ca " + w.gw.opts.caFile
	}
	block := fmt.Sprintf("Host %s\n  HostName gw\n  User alice\n  IdentityFile %s\n  HostKeyAlias gw\n  ProxyCommand %s\n",
		alias, filepath.Join(w.dir, "alice"), cmd)
	writeFile(t, w.config, readFile(t, w.config)+"\n"+block, 0o600)
}

// requireSessionThroughProxy publishes the throw-away sshd with `ssh -R`
// over the proxied host, then runs a command on it with `ssh -J` over the
// same host: two tubes through squid, and a real ssh session in the second.
func requireSessionThroughProxy(t *testing.T, w *world, sq *squid, host string) {
	t.Helper()
	pub := freePort(t)
	w.remoteForward(t, fmt.Sprintf("%d:localhost:%d", pub, w.target.port), host)
	res := w.sshRun(t, "-J", host, "-p", strconv.Itoa(pub), "localhost", "echo session-through-squid")
	if res.code != 0 || strings.TrimSpace(res.stdout) != "session-through-squid" {
		t.Fatalf("ssh -J %s through squid: %s", host, res)
	}
	// squid logs a tunnel when it closes: the -J one has.
	deadline := time.Now().Add(waitTimeout)
	for {
		var tunnels int
		for _, ln := range sq.connects(t) {
			if strings.Contains(ln, proxyGatewayName) {
				tunnels++
			}
		}
		if tunnels > 0 {
			t.Logf("squid logged %d closed CONNECT tunnel(s) to %s", tunnels, proxyGatewayName)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("squid logged no CONNECT tunnel to %s within %v of the -J session's end", proxyGatewayName, waitTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ws:// through a proxy used to send it a plain GET (squid, allowing only
// CONNECT, refused it; one allowing GET drops the Upgrade and the gateway
// answers 426). Now it tunnels with CONNECT, with the proxy credentials.
func TestProxySquidWS(t *testing.T) {
	w, sq := proxyWorld(t, gatewayOpts{}, squidOpts{})
	w.addProxyHost(t, "alice.px", "HTTP_PROXY="+sq.URL(true))
	requireSessionThroughProxy(t, w, sq, "alice.px")
}

// wss:// through squid, to a gateway whose certificate a private CA signed
// (as a TLS-intercepting proxy's would be): trusted with --ca, refused with
// a certificate error without it.
func TestProxySquidWSSWithCA(t *testing.T) {
	ca, cert, key := makeTLSFiles(t, t.TempDir())
	w, sq := proxyWorld(t, gatewayOpts{tlsCert: cert, tlsKey: key, caFile: ca}, squidOpts{})
	w.addProxyHost(t, "alice.px", "HTTPS_PROXY="+sq.URL(true))
	requireSessionThroughProxy(t, w, sq, "alice.px")

	res := connectOnce(t, w, "HTTPS_PROXY="+sq.URL(true))
	if res.code <= 0 || !strings.Contains(res.stderr, "certificate") || strings.Count(strings.TrimSpace(res.stderr), "\n") > 0 {
		t.Fatalf("gateway connect through squid without --ca: want one line about the certificate: %s", res)
	}
	t.Logf("without --ca: %s", strings.TrimSpace(res.stderr))
}

// connectOnce runs `gateway connect URL` (no --ca) with env and stdin held
// open, so that only a refusal ends it.
func connectOnce(t *testing.T, w *world, env ...string) result {
	t.Helper()
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatalf("pipe: %v", err)
	}
	defer wr.Close()
	defer r.Close()
	return runProgramStdin(t, cmdTimeout, r, env, w.gw.bin, "connect", w.proxyURL(t))
}

// Without credentials squid answers 407, and `gateway connect` says so in
// one line naming the proxy and what to set.
func TestProxySquidNoCredentials(t *testing.T) {
	w, sq := proxyWorld(t, gatewayOpts{}, squidOpts{})
	res := connectOnce(t, w, "HTTP_PROXY="+sq.URL(false))
	_, port := splitHostPort(t, w.gw.httpAddr)
	want := fmt.Sprintf("proxy %s refused CONNECT to %s:%s: 407 Proxy Authentication Required (set credentials in HTTP_PROXY as http://user:pass@host:port)",
		sq.addr, proxyGatewayName, port)
	msg := strings.TrimSpace(res.stderr)
	if res.code <= 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Fatalf("gateway connect through squid without credentials: want a non-zero exit and one line containing\n  %s\n%s", want, res)
	}
	t.Logf("refusal: %s", msg)
}

// A wrong proxy password is refused as clearly, naming the user, and the
// password shows nowhere: ssh prints a ProxyCommand's stderr, and scripts
// log it.
func TestRedteamProxyPasswordNotShown(t *testing.T) {
	w, sq := proxyWorld(t, gatewayOpts{}, squidOpts{})
	const wrong = "Wr0ng-proxy-secret"
	proxy := strings.Replace(sq.URL(true), squidPassword, wrong, 1)
	res := connectOnce(t, w, "HTTPS_PROXY="+proxy, "HTTP_PROXY="+proxy)
	msg := strings.TrimSpace(res.stderr)
	redteam(t, "gateway connect through squid with a wrong proxy password",
		"exit non-zero, one line: the proxy's 407 and the user name; the password nowhere",
		fmt.Sprintf("exit %d, %d line(s), names user: %v, password shown: %v", res.code, strings.Count(msg, "\n")+1,
			strings.Contains(msg, `user "`+squidUser+`"`), strings.Contains(res.stdout+res.stderr, wrong)))
	if res.code <= 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, "407 Proxy Authentication Required") ||
		!strings.Contains(msg, `user "`+squidUser+`"`) {
		t.Fatalf("want a non-zero exit and one line with the 407 naming the user: %s", res)
	}
	if strings.Contains(res.stdout+res.stderr, wrong) {
		t.Fatalf("the proxy password is in the output: %s", res)
	}
}

// squid cuts a tunnel idle for its read_timeout (as corporate proxies cut
// idle connections after about 60 s). A raw tube (--no-resume) lives only
// if keepalives cross the proxy more often than it cuts: with the gateway's
// --keepalive-interval below the cut an idle `ssh -R` through squid
// outlives it several times over; with the default (30 s, above the cut)
// squid cuts it. A resumable tube (gateway connect's default) needs no
// tuning: each cut is a dropped WebSocket that it resumes through squid.
func TestProxySquidIdleCut(t *testing.T) {
	const cut = 3 * time.Second
	// Control: a raw tube, keepalives every 30 s (the default), the cut at 3 s.
	w, sq := proxyWorld(t, gatewayOpts{}, squidOpts{readTimeout: cut})
	w.addProxyHost(t, "alice.px", "HTTP_PROXY="+sq.URL(true), "--no-resume")
	pub := freePort(t)
	start := time.Now()
	p := w.remoteForward(t, fmt.Sprintf("%d:localhost:%d", pub, w.target.port), "alice.px")
	p.waitExit(t, 10*cut)
	cutAfter := time.Since(start).Round(100 * time.Millisecond)
	t.Logf("raw tube, default keepalives: squid cut the idle tube after %v", cutAfter)

	// A raw tube, keepalives every second: the idle tube outlives 4 cuts.
	w, sq = proxyWorld(t, gatewayOpts{args: []string{"--keepalive-interval", "1s"}}, squidOpts{readTimeout: cut})
	w.addProxyHost(t, "alice.px", "HTTP_PROXY="+sq.URL(true), "--no-resume")
	pub = freePort(t)
	p = w.remoteForward(t, fmt.Sprintf("%d:localhost:%d", pub, w.target.port), "alice.px")
	time.Sleep(4 * cut)
	if p.exited() {
		t.Fatalf("ssh -R through squid exited while idle for %v with 1 s keepalives (cut at %v)\n%s", 4*cut, cut, p.out)
	}
	w.requireTargetVia(t, pub)
	t.Logf("raw tube, 1 s keepalives: the idle tube outlived %v of squid's %v idle cut", 4*cut, cut)

	// A resumable tube, default keepalives: squid cuts it, it resumes.
	w, sq = proxyWorld(t, gatewayOpts{}, squidOpts{readTimeout: cut})
	w.addProxyHost(t, "alice.px", "HTTP_PROXY="+sq.URL(true))
	pub = freePort(t)
	p = w.remoteForward(t, fmt.Sprintf("%d:localhost:%d", pub, w.target.port), "alice.px")
	time.Sleep(4 * cut)
	if p.exited() {
		t.Fatalf("resumable ssh -R through squid exited while idle for %v (cut at %v)\n%s", 4*cut, cut, p.out)
	}
	w.requireTargetVia(t, pub)
	resumed := len(p.out.linesMatching(`gateway connect: resumed`))
	if resumed == 0 {
		t.Fatalf("resumable ssh -R through squid: no resume in %v of squid's %v idle cut; was it cut at all?\n%s", 4*cut, cut, p.out)
	}
	t.Logf("resumable tube, default keepalives: the idle tube outlived %v of squid's %v idle cut, resumed %d times", 4*cut, cut, resumed)
}
