package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// startTimeout bounds how long a child may take to become ready.
const startTimeout = 20 * time.Second

// benchUser is the gateway user every tunnel logs in as, with the bench
// key; the page logs in as it with benchPassword.
const (
	benchUser     = "bench"
	benchPassword = "tubebench-Page-4172"
)

// identity is the client key pair, as a signer and as OpenSSH files.
type identity struct {
	signer          ssh.Signer
	keyFile, pubKey string
}

// newIdentity makes an ed25519 key and writes it (and its .pub) in dir.
func newIdentity(dir string) (*identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("client signer: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "tubebench")
	if err != nil {
		return nil, fmt.Errorf("marshal client key: %w", err)
	}
	id := &identity{signer: signer, keyFile: filepath.Join(dir, "id_ed25519")}
	if err := os.WriteFile(id.keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("write client key: %w", err)
	}
	id.pubKey = id.keyFile + ".pub"
	if err := os.WriteFile(id.pubKey, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		return nil, fmt.Errorf("write client public key: %w", err)
	}
	return id, nil
}

// gateway is a running `gateway serve` with its own data dir.
type gateway struct {
	bin              string
	proc             *proc
	httpAddr, sshTCP string
	pprofAddr        string // "" unless started with profiling
}

var (
	httpListening  = regexp.MustCompile(`msg="http listening" addr=(\S+)`)
	sshListening   = regexp.MustCompile(`msg="ssh listening" addr=(\S+)`)
	pprofListening = regexp.MustCompile(`msg="pprof listening" addr=(\S+)`)
)

// startGateway adds the bench user (key and password) to a fresh data dir
// under dir and runs the gateway on loopback ports with extra flags; with
// profile, it serves /debug/pprof on loopback too.
func startGateway(ctx context.Context, bin, dir string, id *identity, profile bool, extra ...string) (*gateway, error) {
	data, err := os.MkdirTemp(dir, "gwdata")
	if err != nil {
		return nil, fmt.Errorf("gateway data dir: %w", err)
	}
	add := exec.CommandContext(ctx, bin, "user", "add", benchUser, "--key", id.pubKey, "--password-stdin", "--data", data)
	add.Stdin = strings.NewReader(benchPassword + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gateway user add: %v: %s", err, out)
	}
	// Thousands of idle tubes come from this one address: no connection caps.
	args := append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--ssh-listen", "127.0.0.1:0",
		"--max-conns-per-source", "0", "--max-conns", "0"}, extra...)
	if profile {
		args = append(args, "--pprof=127.0.0.1:0")
	}
	p, err := startProc("gateway", os.Environ(), bin, args...)
	if err != nil {
		return nil, err
	}
	g := &gateway{bin: bin, proc: p}
	m, err := p.waitLine(ctx, httpListening, startTimeout)
	if err != nil {
		p.stop()
		return nil, err
	}
	g.httpAddr = m[1]
	if m, err = p.waitLine(ctx, sshListening, startTimeout); err != nil {
		p.stop()
		return nil, err
	}
	g.sshTCP = m[1]
	if profile {
		if m, err = p.waitLine(ctx, pprofListening, startTimeout); err != nil {
			p.stop()
			return nil, err
		}
		g.pprofAddr = m[1]
	}
	return g, nil
}

// WSURL is the gateway's SSH WebSocket URL.
func (g *gateway) WSURL() string { return "ws://" + g.httpAddr + "/ssh" }

// stop kills the gateway.
func (g *gateway) stop() { g.proc.stop() }

// metrics reads the named Prometheus gauges from the gateway's /metrics.
func (g *gateway) metrics(ctx context.Context, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.httpAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("gateway metrics: %w", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if ok && slices.Contains(names, name) {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return nil, fmt.Errorf("gateway metrics: %s: %w", name, err)
			}
			out[name] = f
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("gateway metrics: no %s", n)
		}
	}
	return out, sc.Err()
}

func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
