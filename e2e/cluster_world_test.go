package e2e

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/cluster/redistest"
)

// clusterWorld is a cluster of gateway nodes sharing one throw-away redis-server, with Debian's
// haproxy in front (round robin for HTTP and WebSocket, TCP for SSH), and the throw-away sshd of a
// world as the host behind the firewall.
//
// Its ssh_config has, for every user NAME and node i (1-based), NAME.n<i> (over `gateway connect`
// to node i, resumable), NAME.n<i>raw (--no-resume) and NAME.n<i>tcp (native SSH to node i), plus
// NAME.lb and NAME.lbtcp through haproxy. Every node must present the same host keys (they come
// from Redis): known_hosts trusts them as "gw".
type clusterWorld struct {
	*world
	redis *redistest.Server
	nodes []*gateway
	lb    *haproxy
}

// newClusterWorld starts redis, n gateway nodes with --cluster and haproxy in front of them.
func newClusterWorld(t *testing.T, n int, extra ...string) *clusterWorld {
	t.Helper()
	requireGatewayBinary(t)
	cw := &clusterWorld{world: newTargetWorld(t), redis: redistest.Start(t)}
	for i := 1; i <= n; i++ {
		cw.nodes = append(cw.nodes, cw.startNode(t, i, extra...))
	}
	cw.world.gw = cw.nodes[0]
	cw.lb = startHAProxyCluster(t, cw.nodes)
	cw.writeKnownHosts(t)
	cw.writeConfig(t)
	return cw
}

// startNode starts node i (1-based) on a port of its own, with its own data dir.
func (cw *clusterWorld) startNode(t *testing.T, i int, extra ...string) *gateway {
	t.Helper()
	port := freePort(t)
	args := append([]string{"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--cluster", cw.redis.URL(),
		"--node-id", fmt.Sprintf("node%d", i), "--node-addr", fmt.Sprintf("http://127.0.0.1:%d", port)}, extra...)
	return startGateway(t, filepath.Join(cw.dir, fmt.Sprintf("node%d", i)), gatewayOpts{sshListen: true, args: args})
}

// killNode sends SIGKILL to node i: no goodbye to Redis, its directory entries must expire.
func (cw *clusterWorld) killNode(t *testing.T, i int) {
	t.Helper()
	g := cw.nodes[i-1]
	if err := syscall.Kill(g.proc.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill node%d: %v", i, err)
	}
	g.proc.waitExit(t, 10*time.Second)
}

// cli runs `gateway ARGS... --cluster URL`: the command line against the cluster's Redis.
func (cw *clusterWorld) cli(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runProgram(t, cmdTimeout, stdin, nil, cw.nodes[0].bin, append(args, "--cluster", cw.redis.URL())...)
}

func (cw *clusterWorld) mustCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	res := cw.cli(t, stdin, args...)
	if res.code != 0 {
		t.Fatalf("gateway CLI failed: %s", res)
	}
	return res
}

// addUser makes a key for name and adds the user to the cluster (`gateway user add --cluster`).
func (cw *clusterWorld) addUser(t *testing.T, name string, extra ...string) {
	t.Helper()
	cw.addUserPassword(t, name, "", extra...)
}

// addUserPassword is addUser with a password too, for the web login (none if password is "").
func (cw *clusterWorld) addUserPassword(t *testing.T, name, password string, extra ...string) {
	t.Helper()
	key := filepath.Join(cw.dir, name)
	genKey(t, cw.tl, key)
	args := append([]string{"user", "add", name, "--key", key + ".pub"}, extra...)
	stdin := ""
	if password != "" {
		args, stdin = append(args, "--password-stdin"), password+"\n"
	}
	cw.mustCLI(t, stdin, args...)
	cw.users = append(cw.users, name)
	cw.writeConfig(t)
}

// hostKeysOf returns the host keys node g presents on its SSH listener (ssh-keyscan), sorted.
func (cw *clusterWorld) hostKeysOf(t *testing.T, g *gateway) []string {
	t.Helper()
	host, port := splitHostPort(t, g.sshAddr)
	keyscan := strings.TrimSuffix(cw.tl.ssh, "ssh") + "ssh-keyscan"
	res := runProgram(t, cmdTimeout, "", nil, keyscan, "-p", port, "-t", "ed25519,ecdsa", host)
	if res.code != 0 {
		t.Fatalf("ssh-keyscan %s: %s", g.sshAddr, res)
	}
	var keys []string
	for _, ln := range strings.Split(res.stdout, "\n") {
		f := strings.Fields(ln)
		if len(f) == 3 && !strings.HasPrefix(ln, "#") {
			keys = append(keys, f[1]+" "+f[2])
		}
	}
	sort.Strings(keys)
	if len(keys) < 2 {
		t.Fatalf("ssh-keyscan %s: want ed25519 and ecdsa keys, got %q", g.sshAddr, res.stdout)
	}
	return keys
}

// writeKnownHosts trusts node 1's host keys as "gw", after checking every node presents the same.
func (cw *clusterWorld) writeKnownHosts(t *testing.T) {
	t.Helper()
	want := cw.hostKeysOf(t, cw.nodes[0])
	for i, g := range cw.nodes[1:] {
		if got := cw.hostKeysOf(t, g); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("node%d presents host keys %q, node1 %q: every node must be the same gateway", i+2, got, want)
		}
	}
	var b strings.Builder
	for _, k := range want {
		fmt.Fprintf(&b, "gw %s\n", k)
	}
	fmt.Fprintf(&b, "target %s\n", cw.target.hostKeyPub)
	writeFile(t, cw.knownHosts, b.String(), 0o600)
}

// writeConfig (re)writes the ssh_config for the users and nodes.
func (cw *clusterWorld) writeConfig(t *testing.T) {
	t.Helper()
	var b strings.Builder
	host := func(alias, user, extra string) {
		fmt.Fprintf(&b, "Host %s\n  HostName gw\n  User %s\n  IdentityFile %s\n  HostKeyAlias gw\n%s\n",
			alias, user, filepath.Join(cw.dir, user), extra)
	}
	connect := func(addr string) string { return cw.nodes[0].bin + " connect ws://" + addr + "/ssh" }
	for _, name := range cw.users {
		for i, g := range cw.nodes {
			host(fmt.Sprintf("%s.n%d", name, i+1), name, "  ProxyCommand "+connect(g.httpAddr)+"\n")
			host(fmt.Sprintf("%s.n%draw", name, i+1), name, "  ProxyCommand "+connect(g.httpAddr)+" --no-resume\n")
			h, p := splitHostPort(t, g.sshAddr)
			fmt.Fprintf(&b, "Host %s.n%dtcp\n  HostName %s\n  Port %s\n  User %s\n  IdentityFile %s\n  HostKeyAlias gw\n\n",
				name, i+1, h, p, name, filepath.Join(cw.dir, name))
		}
		if cw.lb != nil {
			host(name+".lb", name, "  ProxyCommand "+connect(cw.lb.httpAddr)+" --no-resume\n")
			h, p := splitHostPort(t, cw.lb.sshAddr)
			fmt.Fprintf(&b, "Host %s.lbtcp\n  HostName %s\n  Port %s\n  User %s\n  IdentityFile %s\n  HostKeyAlias gw\n\n",
				name, h, p, name, filepath.Join(cw.dir, name))
		}
	}
	b.WriteString(cw.configTail())
	writeFile(t, cw.config, b.String(), 0o600)
}

// startHAProxyCluster puts haproxy in front of the nodes: round robin for HTTP (WebSocket
// upgrades included), and for SSH over TCP.
func startHAProxyCluster(t *testing.T, nodes []*gateway) *haproxy {
	t.Helper()
	bin := "/usr/sbin/haproxy"
	dir := shortTempDir(t)
	h := &haproxy{httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), sshAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	var conf strings.Builder
	conf.WriteString(haproxyHeader(dir))
	fmt.Fprintf(&conf, `frontend web
	mode http
	bind %s
	default_backend gw
backend gw
	mode http
	balance roundrobin
`, h.httpAddr)
	for i, g := range nodes {
		fmt.Fprintf(&conf, "\tserver node%d %s check inter 1s\n", i+1, g.httpAddr)
	}
	fmt.Fprintf(&conf, "frontend ssh\n\tmode tcp\n\tbind %s\n\tdefault_backend gwssh\nbackend gwssh\n\tmode tcp\n\tbalance roundrobin\n", h.sshAddr)
	for i, g := range nodes {
		fmt.Fprintf(&conf, "\tserver node%d %s check inter 1s\n", i+1, g.sshAddr)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, cfg, conf.String(), 0o644)
	if res := runProgram(t, cmdTimeout, "", nil, bin, "-c", "-f", cfg); res.code != 0 {
		t.Fatalf("haproxy -c: %s", res)
	}
	h.proc = startProc(t, "haproxy", nil, bin, "-db", "-f", cfg)
	waitDial(t, h.httpAddr, startTimeout)
	waitDial(t, h.sshAddr, startTimeout)
	return h
}
