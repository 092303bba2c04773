// Package nodelink carries connections between the nodes of a cluster:
// node A, where a connection for an endpoint arrived, opens a stream to
// node B, whose tube holds the endpoint, and B delivers it into the tube
// as a forwarded-tcpip channel, exactly as a local connection would be.
//
// A Link is both sides. As a client it implements cluster.Peers (Open,
// Probe, CloseTube); as a server it serves cluster.Local to its peers
// under /cluster/v1/ on the node's own HTTP listener (Mount).
//
// The stream is an HTTP/1.1 GET with "Upgrade: tubegate-node/1",
// answered "101 Switching Protocols" and then hijacked on both sides: the
// bytes after it are the connection's own, on the raw TCP (or TLS, when
// the peer's node address is https) connection, with no framing, and a
// half-close is a TCP (or TLS close_notify) half-close. One TCP connection
// per stream: the kernel does the flow control, and a slow stream cannot
// hold up another, as it could in a multiplexer of our own.
//
// Every request is signed: HMAC-SHA256 with a key derived from the cluster
// secret (HKDF, "tubegate nodelink v1") over the method, path, caller and
// target node ids, endpoint key, tube, origin, a timestamp (valid ±30 s)
// and a nonce, which is remembered for the window so that a captured
// request cannot be replayed.
package nodelink

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tubegate/tubegate/internal/cluster"
)

// Defaults of Config.
const (
	DefaultMaxStreamsPerPeer = 4096
	DefaultSkew              = 30 * time.Second
	DefaultOpenTimeout       = 30 * time.Second
	DefaultProbeTimeout      = 10 * time.Second
	// DefaultMaxNonces bounds the replay cache: about 4,000 signed
	// requests a second at ±30 s, some 15 MB at most.
	DefaultMaxNonces = 1 << 18
)

// Proto is the Upgrade token of a node-to-node stream.
const Proto = "tubegate-node/1"

// Config is one node's side of the link.
type Config struct {
	// Context bounds the link: when it is done every stream served to a
	// peer is closed (the gateway stops).
	Context context.Context
	// Secret is the cluster secret (cluster.Cluster.Secret); if nil, New
	// reads it from Cluster.
	Secret  []byte
	Cluster *cluster.Cluster
	// NodeID is this node's id: the caller's name on requests it signs, and
	// the only target it accepts requests for.
	NodeID string
	// Local serves peers' requests (the forward registry); nil: this node
	// only calls out, and refuses peers' requests with 503.
	Local cluster.Local
	Log   *slog.Logger
	// CAFile is PEM certificates trusted, besides the system roots, for
	// peers whose node address is https (--cluster-ca).
	CAFile string
	// TLS overrides the client TLS config built from CAFile (tests).
	TLS *tls.Config
	// Metrics, if set, receives the link's counters.
	Metrics prometheus.Registerer
	// MaxStreamsPerPeer caps the streams one peer node holds open here at
	// once (default DefaultMaxStreamsPerPeer).
	MaxStreamsPerPeer int
	// Skew is how far a request's timestamp may be from this node's clock
	// (default DefaultSkew).
	Skew time.Duration
	// OpenTimeout bounds opening a stream, both the peer's answer and the
	// local delivery into the tube (default DefaultOpenTimeout).
	OpenTimeout time.Duration
	// ProbeTimeout bounds Probe and CloseTube without a deadline of their
	// own (default DefaultProbeTimeout).
	ProbeTimeout time.Duration
	// MaxNonces bounds the replay cache (default DefaultMaxNonces).
	MaxNonces int
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Link is one node's end of the node-to-node link: a cluster.Peers to
// call other nodes and an HTTP handler that serves them its Local.
type Link struct {
	cfg    Config
	ctx    context.Context
	key    []byte
	log    *slog.Logger
	skew   time.Duration
	now    func() time.Time
	tls    *tls.Config
	dialer *net.Dialer
	client *http.Client
	nonces *nonceCache
	m      *metrics

	mu      sync.Mutex
	perPeer map[string]int // streams served, by caller node
}

var _ cluster.Peers = (*Link)(nil)

// New makes a Link. It needs the secret (or the cluster to read it from)
// and this node's id.
func New(cfg Config) (*Link, error) {
	ctx := cfg.Context
	if ctx == nil {
		ctx = context.Background()
	}
	if cfg.NodeID == "" {
		return nil, errors.New("node link: no node id")
	}
	secret := cfg.Secret
	if secret == nil && cfg.Cluster != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := cfg.Cluster.Secret(sctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("node link: %w", err)
		}
		secret = s
	}
	if len(secret) < 16 {
		return nil, errors.New("node link: the cluster secret is missing or shorter than 16 bytes")
	}
	key, err := deriveKey(secret)
	if err != nil {
		return nil, fmt.Errorf("node link: derive key: %w", err)
	}
	tc := cfg.TLS
	if tc == nil {
		if tc, err = clientTLS(cfg.CAFile); err != nil {
			return nil, err
		}
	}
	tc = tc.Clone()
	tc.NextProtos = []string{"http/1.1"} // Upgrade and hijacking are HTTP/1.1's
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	l := &Link{
		cfg:     cfg,
		ctx:     ctx,
		key:     key,
		log:     cfg.Log,
		skew:    cfg.Skew,
		now:     cfg.Now,
		tls:     tc,
		perPeer: map[string]int{},
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.log = l.log.With("part", "nodelink", "node", cfg.NodeID)
	if l.skew <= 0 {
		l.skew = DefaultSkew
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.cfg.MaxStreamsPerPeer <= 0 {
		l.cfg.MaxStreamsPerPeer = DefaultMaxStreamsPerPeer
	}
	if l.cfg.OpenTimeout <= 0 {
		l.cfg.OpenTimeout = DefaultOpenTimeout
	}
	if l.cfg.ProbeTimeout <= 0 {
		l.cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if l.cfg.MaxNonces <= 0 {
		l.cfg.MaxNonces = DefaultMaxNonces
	}
	l.nonces = newNonceCache(l.skew, l.cfg.MaxNonces)
	// TCP keepalives: a stream to a peer that vanished (power loss, a
	// partition) ends rather than hangs.
	l.dialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 15 * time.Second}
	l.client = &http.Client{Transport: &http.Transport{
		Proxy:               nil, // node to node is never proxied
		DialContext:         l.dialer.DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     time.Minute,
	}}
	l.m = newMetrics(cfg.Metrics)
	return l, nil
}

// clientTLS is the system roots plus the certificates in caFile.
func clientTLS(caFile string) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--cluster-ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cluster-ca %s: no PEM certificate found", caFile)
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// Streams is the number of streams open now: served to peers (in) and
// opened to peers (out).
func (l *Link) Streams() (in, out int64) { return l.m.in.Load(), l.m.out.Load() }

// Refused is how many peers' requests were refused for reason (one of
// the reasons of tubegate_nodelink_refused_total).
func (l *Link) Refused(reason string) uint64 {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	return l.m.refused[reason]
}

// metrics are the link's counters, readable with or without Prometheus.
type metrics struct {
	in, out atomic.Int64

	mu      sync.Mutex
	refused map[string]uint64
	prom    *prometheus.CounterVec
	opened  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{refused: map[string]uint64{}}
	if reg == nil {
		return m
	}
	m.prom = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tubegate_nodelink_refused_total",
		Help: "Requests from cluster peers refused, by reason: no_auth, malformed, bad_mac, wrong_node, expired, replay, replay_cache_full, stream_cap, no_local.",
	}, []string{"reason"})
	m.opened = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tubegate_nodelink_streams_total",
		Help: "Node-to-node streams opened, by direction: in (served to a peer), out (opened to a peer).",
	}, []string{"direction"})
	reg.MustRegister(m.prom, m.opened,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tubegate_nodelink_streams", Help: "Node-to-node streams open now, by direction.",
			ConstLabels: prometheus.Labels{"direction": "in"},
		}, func() float64 { return float64(m.in.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tubegate_nodelink_streams", Help: "Node-to-node streams open now, by direction.",
			ConstLabels: prometheus.Labels{"direction": "out"},
		}, func() float64 { return float64(m.out.Load()) }))
	return m
}

func (m *metrics) refuse(reason string) {
	m.mu.Lock()
	m.refused[reason]++
	m.mu.Unlock()
	if m.prom != nil {
		m.prom.WithLabelValues(reason).Inc()
	}
}

func (m *metrics) open(direction string) {
	if direction == "in" {
		m.in.Add(1)
	} else {
		m.out.Add(1)
	}
	if m.opened != nil {
		m.opened.WithLabelValues(direction).Inc()
	}
}

func (m *metrics) closed(direction string) {
	if direction == "in" {
		m.in.Add(-1)
	} else {
		m.out.Add(-1)
	}
}
