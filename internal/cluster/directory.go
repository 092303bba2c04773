package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tubegate/tubegate/internal/forward"
)

// DirectoryConfig tunes the endpoint directory.
type DirectoryConfig struct {
	// TTL is how long a claim outlives its node's last refresh (default
	// 10s): a killed node's endpoints are free again within it.
	TTL time.Duration
	// Refresh is how often the node extends all its claims (default 3s).
	Refresh time.Duration
	// Timeout bounds each call to Redis (default 3s).
	Timeout time.Duration
	// MaxList caps the endpoints read from one user's index by List
	// (default 1024: each node caps a user's endpoints by
	// --max-forwards-per-user, 256 by default).
	MaxList int
	Log     *slog.Logger
	// Metrics, if set, gets tubegate_directory_claims (claims held) and
	// tubegate_directory_refresh_failures_total.
	Metrics prometheus.Registerer
}

// Directory is the cluster's endpoint directory in Redis: one key per
// endpoint, tubegate:ep:{address}, holding the owning node and tube as
// JSON with a TTL that the owning node keeps extending. It implements
// forward.Directory.
type Directory struct {
	c     *Cluster
	peers Peers
	cfg   DirectoryConfig
	log   *slog.Logger

	mu      sync.Mutex
	held    map[string]held   // this node's claims, by Redis key
	orphans map[string]orphan // releases Redis did not hear of, by Redis key
	lost    []func(lost, holder forward.Claim)
	kick    chan struct{} // a refresh now (Redis came back)

	failures atomic.Int64
}

// held is one of this node's claims as recorded.
type held struct {
	claim forward.Claim
	value string // the JSON in Redis
}

// orphan is a released claim whose compare-and-delete failed: retried
// until it succeeds or the record has expired anyway.
type orphan struct {
	claim forward.Claim
	until time.Time
}

var (
	_ forward.Directory = (*Directory)(nil)
	_ Local             = (*forward.Registry)(nil)
)

// NewDirectory returns the endpoint directory of c's node; peers carries
// connections, probes and closes to other nodes. Run keeps its claims
// alive.
func NewDirectory(c *Cluster, peers Peers, cfg DirectoryConfig) *Directory {
	if cfg.TTL <= 0 {
		cfg.TTL = 10 * time.Second
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = 3 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.MaxList <= 0 {
		cfg.MaxList = DefaultMaxList
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	d := &Directory{c: c, peers: peers, cfg: cfg, log: cfg.Log, held: make(map[string]held),
		orphans: make(map[string]orphan), kick: make(chan struct{}, 1)}
	c.OnReconnect(func(context.Context) { d.Kick() })
	if cfg.Metrics != nil {
		cfg.Metrics.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tubegate_directory_claims",
				Help: "Endpoint keys this node holds in the cluster's directory."},
				func() float64 { return float64(d.Held()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "tubegate_directory_refresh_failures_total",
				Help: "Refreshes of this node's directory claims that Redis did not answer."},
				func() float64 { return float64(d.failures.Load()) }))
	}
	return d
}

// record is a claim as Redis holds it.
type record struct {
	ID        string    `json:"id"`
	Key       string    `json:"key"`
	Node      string    `json:"node"`
	NodeAddr  string    `json:"node_addr"`
	Tube      string    `json:"tube"`
	User      string    `json:"user"`
	Virtual   bool      `json:"virtual"`
	BindHost  string    `json:"bind_host"`
	BindPort  int       `json:"bind_port"`
	Published time.Time `json:"published"`
}

func encode(c forward.Claim) string {
	b, _ := json.Marshal(record{ID: c.ID, Key: c.Key.String(), Node: c.Node, NodeAddr: c.NodeAddr, Tube: c.Tube,
		User: c.User, Virtual: c.Virtual, BindHost: c.BindHost, BindPort: c.BindPort, Published: c.Published})
	return string(b)
}

func decode(v string) (forward.Claim, error) {
	var r record
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		return forward.Claim{}, fmt.Errorf("directory record: %w", err)
	}
	key, err := forward.ParseAddress(r.Key)
	if err != nil {
		return forward.Claim{}, fmt.Errorf("directory record: %w", err)
	}
	return forward.Claim{ID: r.ID, Key: key, Node: r.Node, NodeAddr: r.NodeAddr, Tube: r.Tube, User: r.User,
		Virtual: r.Virtual, BindHost: r.BindHost, BindPort: r.BindPort, Published: r.Published}, nil
}

// epKey is the Redis key of an endpoint: tubegate:ep:myhost:22.
func epKey(a forward.Address) string { return Key("ep", a.String()) }

// unavailable words a Redis failure for the client: "cluster unavailable:
// redis unreachable: ...".
func unavailable(what string, err error) error {
	err = Wrap(err)
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("cluster unavailable: %w", err)
	}
	return fmt.Errorf("endpoint directory: %s: %w", what, err)
}

// Node is this node's ID.
func (d *Directory) Node() string { return d.c.NodeID() }

// Held is the number of claims this node holds.
func (d *Directory) Held() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.held)
}

// OnLost registers fn to hear of claims lost to newer ones.
func (d *Directory) OnLost(fn func(lost, holder forward.Claim)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lost = append(d.lost, fn)
}

func newClaimID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Claim records c for this node: with SET NX, or, when old is given, only
// if the key holds old's ID still (a Lua compare-and-swap).
func (d *Directory) Claim(ctx context.Context, c forward.Claim, old *forward.Claim) (forward.Claim, *forward.Claim, error) {
	c.ID, c.Node, c.NodeAddr = newClaimID(), d.c.NodeID(), d.c.NodeAddr()
	key, value := epKey(c.Key), encode(c)
	oldID := ""
	if old != nil {
		oldID = old.ID
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	res, err := claimScript.Run(ctx, d.c.Client(), []string{key, userKey(c.User)}, value, d.cfg.TTL.Milliseconds(), oldID,
		c.Key.String()).Result()
	if err != nil {
		return forward.Claim{}, nil, unavailable("claim "+c.Key.String(), err)
	}
	if v, ok := res.(string); ok {
		h, err := decode(v)
		if err != nil {
			return forward.Claim{}, nil, fmt.Errorf("%s holds a malformed record: %w", key, err)
		}
		return forward.Claim{}, &h, nil
	}
	// Refreshed from now on. Were it lost before, the next refresh finds
	// the newer holder.
	d.mu.Lock()
	d.held[key] = held{claim: c, value: value}
	delete(d.orphans, key)
	d.mu.Unlock()
	return c, nil, nil
}

// forget drops key from d.held if it is still the claim id.
func (d *Directory) forget(key, id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if h, ok := d.held[key]; ok && h.claim.ID == id {
		delete(d.held, key)
		return true
	}
	return false
}

// Release stops refreshing c and deletes its record if it is still c's. A
// release Redis does not hear of is retried on later refreshes; the record
// expires within the TTL in any case.
func (d *Directory) Release(ctx context.Context, c forward.Claim) {
	key := epKey(c.Key)
	d.forget(key, c.ID)
	err := d.c.Health() // known down: no wait for a timeout, the refresh retries it
	if err == nil {
		err = d.releaseKey(ctx, c)
	}
	if err != nil {
		d.log.Info("endpoint directory: release not heard by redis; retried, else it expires", "endpoint", c.Key,
			"err", err)
		d.mu.Lock()
		d.orphans[key] = orphan{claim: c, until: time.Now().Add(d.cfg.TTL)}
		d.mu.Unlock()
	}
}

// releaseKey deletes c's record if it is still c's, and takes it out of
// its user's index.
func (d *Directory) releaseKey(ctx context.Context, c forward.Claim) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	err := releaseScript.Run(ctx, d.c.Client(), []string{epKey(c.Key), userKey(c.User)}, c.ID, c.Key.String()).Err()
	if err != nil {
		return Wrap(err)
	}
	return nil
}

// Lookup returns the claim on key, or nil.
func (d *Directory) Lookup(ctx context.Context, key forward.Address) (*forward.Claim, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	v, err := d.c.Client().Get(ctx, epKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("look up "+key.String(), err)
	}
	c, err := decode(v)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func nodeOf(c forward.Claim) Node { return Node{ID: c.Node, Addr: c.NodeAddr} }

var errNoPeers = errors.New("no node-to-node link")

// Open carries a connection to c's endpoint through c's node.
func (d *Directory) Open(ctx context.Context, c forward.Claim, origin net.Addr) (net.Conn, error) {
	if d.peers == nil {
		return nil, errNoPeers
	}
	return d.peers.Open(ctx, nodeOf(c), c.Key.String(), c.Tube, origin)
}

// Probe asks c's node whether c's tube still answers.
func (d *Directory) Probe(ctx context.Context, c forward.Claim) (bool, error) {
	if d.peers == nil {
		return false, errNoPeers
	}
	return d.peers.Probe(ctx, nodeOf(c), c.Tube)
}

// CloseTube asks c's node to end c's tube.
func (d *Directory) CloseTube(ctx context.Context, c forward.Claim) error {
	if d.peers == nil {
		return errNoPeers
	}
	return d.peers.CloseTube(ctx, nodeOf(c), c.Tube)
}
