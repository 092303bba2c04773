package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/gwclient"
	"github.com/tubegate/tubegate/internal/gwproc"
)

// kindCluster is the Kind of the cluster paths; roleArriving names the
// node a cross-node connection arrives at (the owning node is roleGateway).
const (
	kindCluster  = "cluster"
	roleArriving = "gateway, arriving node"
)

// Virtual names the cluster figures reach, in the bench user's namespace.
const (
	clusterEcho = "echo." + benchUser
	clusterSink = "sink." + benchUser
)

// clusterBench is two gateway nodes on one throw-away redis-server, with a
// Go client on node A holding the virtual names echo.bench:1 and
// sink.bench:1 (to the echo server and the sink). Its two paths are the
// same -L to those names, one through node A (the owning node) and one
// through node B, which carries each connection to node A.
type clusterBench struct {
	redis  *gwproc.Proc
	a, b   *gateway
	holder *gwclient.Tube
}

// startClusterBench starts the cluster, or says why it cannot (no
// redis-server: the cluster figures are skipped).
func startClusterBench(ctx context.Context, cfg Config, dir string, id *identity, tg *targets) (*clusterBench, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("redis-server not installed (scripts/install-deps.sh): %w", err)
	}
	cb := &clusterBench{}
	port, err := gwproc.FreePort()
	if err != nil {
		return nil, err
	}
	rdir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return nil, err
	}
	cb.redis, err = gwproc.Start("redis-server", os.Environ(), "redis-server", "--bind", "127.0.0.1",
		"--port", fmt.Sprint(port), "--save", "", "--appendonly", "no", "--dir", rdir)
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("redis://127.0.0.1:%d", port)
	if err := waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
		cb.close()
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	start := func(node string, noUser bool) (*gateway, error) {
		hp, err := gwproc.FreePort()
		if err != nil {
			return nil, err
		}
		listen := fmt.Sprintf("127.0.0.1:%d", hp)
		return gwproc.StartGateway(ctx, gwproc.GatewayOptions{
			Bin: cfg.Gateway, Dir: dir, Identity: id, User: benchUser, Password: benchPassword, NoUser: noUser,
			Listen: listen, Cluster: url,
			Extra: append([]string{"--node-id", node, "--node-addr", "http://" + listen}, cfg.GatewayFlags...),
		})
	}
	if cb.a, err = start("bench-a", false); err != nil {
		cb.close()
		return nil, fmt.Errorf("node a: %w", err)
	}
	if cb.b, err = start("bench-b", true); err != nil {
		cb.close()
		return nil, fmt.Errorf("node b: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, gwproc.StartTimeout)
	defer cancel()
	if cb.holder, err = clusterTube(dctx, cb.a, "", id); err != nil {
		cb.close()
		return nil, fmt.Errorf("holder on node a: %w", err)
	}
	for name, target := range map[string]string{clusterEcho: tg.EchoAddr(), clusterSink: tg.SinkAddr()} {
		ln, err := cb.holder.Listen(name, 1)
		if err != nil {
			cb.close()
			return nil, fmt.Errorf("publish %s on node a: %w", name, err)
		}
		go gwclient.Serve(ln, func(ctx context.Context, _ net.Conn) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", target)
		}, &forward.Conns{}, nil)
	}
	return cb, nil
}

// paths are the two -L paths of the cluster figures for cipher.
func (cb *clusterBench) paths(cipher string, id *identity) []path {
	short := shortCipher(cipher)
	via := func(g *gateway) func(ctx context.Context) (endpoints, error) {
		return func(ctx context.Context) (endpoints, error) { return clusterLocal(ctx, g, cipher, id) }
	}
	return []path{
		{ID: "cluster-same-node-" + short, Name: "cluster, -L to a name via its own node", Kind: kindCluster, Cipher: cipher,
			setup: via(cb.a), procs: []procRoot{{role: roleGateway, pid: cb.a.Proc.PID()}}},
		{ID: "cluster-cross-node-" + short, Name: "cluster, -L to a name via another node", Kind: kindCluster, Cipher: cipher,
			setup: via(cb.b), procs: []procRoot{{role: roleArriving, pid: cb.b.Proc.PID()}, {role: roleGateway, pid: cb.a.Proc.PID()}}},
	}
}

func (cb *clusterBench) close() {
	if cb.holder != nil {
		cb.holder.Close()
	}
	for _, g := range []*gateway{cb.b, cb.a} {
		if g != nil {
			g.Stop()
		}
	}
	if cb.redis != nil {
		cb.redis.Stop()
	}
}

// clusterTube is a Go client's tube to node g over its WebSocket.
func clusterTube(ctx context.Context, g *gateway, cipher string, id *identity) (*gwclient.Tube, error) {
	c, err := bridge.Dial(ctx, g.WSURL(), bridge.DialOptions{})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", g.WSURL(), err)
	}
	cfg := &ssh.ClientConfig{User: benchUser, Auth: []ssh.AuthMethod{ssh.PublicKeys(id.Signer)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: gwproc.StartTimeout}
	if cipher != "" {
		cfg.Ciphers = []string{cipher}
	}
	t, err := gwclient.NewTube(ctx, c, g.HTTPAddr, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return t, nil
}

// clusterLocal is an in-process `-L` through node g: two loopback
// listeners whose connections open direct-tcpip to the echo and sink names.
func clusterLocal(ctx context.Context, g *gateway, cipher string, id *identity) (endpoints, error) {
	dctx, cancel := context.WithTimeout(ctx, gwproc.StartTimeout)
	defer cancel()
	t, err := clusterTube(dctx, g, cipher, id)
	if err != nil {
		return endpoints{}, err
	}
	var lns []net.Listener
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
		t.Close()
	}
	addrs := make([]string, 2)
	for i, name := range []string{clusterEcho, clusterSink} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			closeAll()
			return endpoints{}, err
		}
		lns = append(lns, ln)
		addrs[i] = ln.Addr().String()
		go gwclient.Serve(ln, func(ctx context.Context, _ net.Conn) (net.Conn, error) { return t.Open(ctx, name, 1) }, &forward.Conns{}, nil)
	}
	// The first connection proves the path before the figures start.
	c, err := net.DialTimeout("tcp", addrs[0], dialTimeout)
	if err == nil {
		c.SetDeadline(time.Now().Add(gwproc.StartTimeout))
		_, err = c.Write([]byte{1})
		if err == nil {
			var b [1]byte
			_, err = c.Read(b[:])
		}
		c.Close()
	}
	if err != nil {
		closeAll()
		return endpoints{}, fmt.Errorf("first connection to %s via %s: %w", clusterEcho, g.HTTPAddr, err)
	}
	return endpoints{echo: addrs[0], sink: addrs[1], close: closeAll}, nil
}

// waitTCP waits until addr accepts a connection.
func waitTCP(ctx context.Context, addr string) error {
	deadline := time.Now().Add(gwproc.StartTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// addClusterRatios notes, on each cross-node row, its ratio to the same
// figure through the owning node, measured in the same run.
func (r *Report) addClusterRatios() {
	same := map[string]float64{}
	for _, row := range r.Rows {
		if id, ok := strings.CutPrefix(row.PathID, "cluster-same-node-"); ok && row.Value != nil {
			same[row.Figure+"|"+id] = *row.Value
		}
	}
	for i, row := range r.Rows {
		id, ok := strings.CutPrefix(row.PathID, "cluster-cross-node-")
		if !ok || row.Value == nil {
			continue
		}
		if v, ok := same[row.Figure+"|"+id]; ok && v > 0 {
			r.Rows[i].Note = fmt.Sprintf("%.2f× the same via the owning node", *row.Value/v)
		}
	}
}
