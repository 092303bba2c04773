package gwproc

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// StartTimeout bounds how long a child may take to become ready.
const StartTimeout = 20 * time.Second

// Identity is a client key pair, as a signer and as OpenSSH files.
type Identity struct {
	Signer          ssh.Signer
	KeyFile, PubKey string
}

// NewIdentity makes an ed25519 key and writes it (and its .pub) in dir.
func NewIdentity(dir, comment string) (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("client key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("client signer: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, fmt.Errorf("marshal client key: %w", err)
	}
	id := &Identity{Signer: signer, KeyFile: filepath.Join(dir, "id_ed25519")}
	if err := os.WriteFile(id.KeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, fmt.Errorf("write client key: %w", err)
	}
	id.PubKey = id.KeyFile + ".pub"
	if err := os.WriteFile(id.PubKey, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		return nil, fmt.Errorf("write client public key: %w", err)
	}
	return id, nil
}

// GatewayOptions say how to run a gateway.
type GatewayOptions struct {
	Bin      string    // the gateway binary
	Dir      string    // its data dir is made under this
	Identity *Identity // the user's key
	User     string
	Password string   // "" for none
	Profile  bool     // serve /debug/pprof on loopback
	UserArgs []string // extra flags of `user add`, such as --permit-name
	Extra    []string
	// Listen is the HTTP listen address (default 127.0.0.1:0).
	Listen string
	// Cluster is a Redis URL: the user is added there (`user add
	// --cluster`), unless NoUser, and the gateway joins the cluster with
	// Extra's --node-id and --node-addr.
	Cluster string
	NoUser  bool // the user exists already (another node of the cluster added it)
}

// Gateway is a running `gateway serve` with its own data dir.
type Gateway struct {
	Bin              string
	Proc             *Proc
	HTTPAddr, SSHTCP string
	PprofAddr        string // "" unless started with profiling
}

var (
	httpListening  = regexp.MustCompile(`msg="http listening" addr=(\S+)`)
	sshListening   = regexp.MustCompile(`msg="ssh listening" addr=(\S+)`)
	pprofListening = regexp.MustCompile(`msg="pprof listening" addr=(\S+)`)
)

// StartGateway adds the user (key, and password if set) to a fresh data
// dir and runs the gateway on loopback ports with the extra flags. Every
// client comes from one address, so HTTP connection caps are off.
func StartGateway(ctx context.Context, o GatewayOptions) (*Gateway, error) {
	data, err := os.MkdirTemp(o.Dir, "gwdata")
	if err != nil {
		return nil, fmt.Errorf("gateway data dir: %w", err)
	}
	store := []string{"--data", data}
	if o.Cluster != "" {
		store = []string{"--cluster", o.Cluster}
	}
	if !o.NoUser {
		addArgs := append(append([]string{"user", "add", o.User, "--key", o.Identity.PubKey}, store...), o.UserArgs...)
		if o.Password != "" {
			addArgs = append(addArgs, "--password-stdin")
		}
		add := exec.CommandContext(ctx, o.Bin, addArgs...)
		add.Stdin = strings.NewReader(o.Password + "\n")
		if out, err := add.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("gateway user add: %v: %s", err, out)
		}
	}
	listen := o.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	// The bench and the soak drive the gateway from one address: no
	// per-source caps on HTTP or published ports.
	args := append([]string{"serve", "--data", data, "--listen", listen, "--ssh-listen", "127.0.0.1:0",
		"--max-conns-per-source", "0", "--max-conns", "0",
		"--max-forward-conns-per-source", "0", "--max-forward-conns", "0"}, o.Extra...)
	if o.Cluster != "" {
		args = append(args, "--cluster", o.Cluster)
	}
	if o.Profile {
		args = append(args, "--pprof=127.0.0.1:0")
	}
	p, err := Start("gateway", os.Environ(), o.Bin, args...)
	if err != nil {
		return nil, err
	}
	g := &Gateway{Bin: o.Bin, Proc: p}
	m, err := p.WaitLine(ctx, httpListening, StartTimeout)
	if err != nil {
		p.Stop()
		return nil, err
	}
	g.HTTPAddr = m[1]
	if m, err = p.WaitLine(ctx, sshListening, StartTimeout); err != nil {
		p.Stop()
		return nil, err
	}
	g.SSHTCP = m[1]
	if o.Profile {
		if m, err = p.WaitLine(ctx, pprofListening, StartTimeout); err != nil {
			p.Stop()
			return nil, err
		}
		g.PprofAddr = m[1]
	}
	return g, nil
}

// WSURL is the gateway's SSH WebSocket URL.
func (g *Gateway) WSURL() string { return "ws://" + g.HTTPAddr + "/ssh" }

// Stop kills the gateway.
func (g *Gateway) Stop() { g.Proc.Stop() }

// metricsClient opens a new connection per scrape, so that no idle
// keep-alive connection of ours stays open in the gateway between scrapes.
var metricsClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// Metrics reads the named Prometheus metrics from the gateway's /metrics,
// each summed over its labels; a name with no sample is an error.
func (g *Gateway) Metrics(ctx context.Context, names ...string) (map[string]float64, error) {
	all, err := g.Scrape(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(names))
	for _, n := range names {
		v, ok := all[n]
		if !ok {
			return nil, fmt.Errorf("gateway metrics: no %s", n)
		}
		out[n] = v
	}
	return out, nil
}

// Scrape reads every sample of the gateway's /metrics, each metric summed
// over its labels.
func (g *Gateway) Scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.HTTPAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gateway metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("gateway metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		name, v := line[:i], line[i+1:]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j] // a labelled sample: summed over its labels
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("gateway metrics: %s: %w", name, err)
		}
		out[name] += f
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("gateway metrics: %w", err)
	}
	return out, nil
}

// Pprof copies the gateway's /debug/pprof/WHAT (for example "heap?gc=1")
// to w; the gateway must have been started with Profile.
func (g *Gateway) Pprof(ctx context.Context, what string, w io.Writer) error {
	if g.PprofAddr == "" {
		return fmt.Errorf("gateway profile %s: started without profiling", what)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.PprofAddr+"/debug/pprof/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := metricsClient.Do(req)
	if err != nil {
		return fmt.Errorf("gateway profile %s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("gateway profile %s: %s", what, resp.Status)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("gateway profile %s: %w", what, err)
	}
	return nil
}
