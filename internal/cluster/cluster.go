package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Prefix starts every Redis key the gateway uses, so that a Redis shared
// with other programs stays tidy: tubegate:users, tubegate:ep:{key}, ...
const Prefix = "tubegate:"

// ErrUnavailable wraps every error that comes from Redis being unreachable,
// so that callers can tell the client "the cluster is degraded".
var ErrUnavailable = errors.New("redis unreachable")

// Config is how a node joins the cluster.
type Config struct {
	// URL is redis://[user:password@]host:port[/db] or rediss://... (TLS).
	URL string
	// NodeID names this node (default: hostname plus a random suffix).
	NodeID string
	// NodeAddr is the base URL other nodes reach this node's HTTP listener
	// at, e.g. http://10.0.0.5:8080.
	NodeAddr string
	Log      *slog.Logger
	// PingEvery is the health check period (default 1s).
	PingEvery time.Duration
}

// Cluster is one node's membership: its Redis client, identity and the
// health of its connection to Redis.
type Cluster struct {
	rdb       *redis.Client
	nodeID    string
	nodeAddr  string
	log       *slog.Logger
	pingEvery time.Duration

	mu          sync.Mutex
	lastErr     error // nil while Redis answers
	onReconnect []func(context.Context)
}

// Open connects to Redis at cfg.URL and checks it answers.
func Open(ctx context.Context, cfg Config) (*Cluster, error) {
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("--cluster %s: %w", Redact(cfg.URL), err)
	}
	// Fail fast: a caller blocked on Redis holds a client waiting.
	opt.DialTimeout = 2 * time.Second
	opt.ReadTimeout = 2 * time.Second
	opt.WriteTimeout = 2 * time.Second
	opt.MaxRetries = 1
	c := &Cluster{
		rdb:       redis.NewClient(opt),
		nodeID:    cfg.NodeID,
		nodeAddr:  strings.TrimRight(cfg.NodeAddr, "/"),
		log:       cfg.Log,
		pingEvery: cfg.PingEvery,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.nodeID == "" {
		c.nodeID = DefaultNodeID()
	}
	if c.pingEvery <= 0 {
		c.pingEvery = time.Second
	}
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		c.rdb.Close()
		return nil, fmt.Errorf("--cluster %s: %w: %w", Redact(cfg.URL), ErrUnavailable, err)
	}
	return c, nil
}

// DefaultNodeID is the hostname plus a random suffix, unique per start.
func DefaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var b [4]byte
	rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

// Redact hides the password of a Redis URL, for logs and errors.
func Redact(url string) string {
	scheme, rest, ok := strings.Cut(url, "://")
	if !ok {
		return url
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return url
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return url
	}
	return scheme + "://" + user + ":xxxxx@" + rest[at+1:]
}

// Client is the Redis client, for the shared stores.
func (c *Cluster) Client() *redis.Client { return c.rdb }

// NodeID is this node's name in the cluster.
func (c *Cluster) NodeID() string { return c.nodeID }

// NodeAddr is the base URL other nodes reach this node at.
func (c *Cluster) NodeAddr() string { return c.nodeAddr }

// Key joins parts under Prefix: Key("ep", "myhost:22") is
// "tubegate:ep:myhost:22".
func Key(parts ...string) string { return Prefix + strings.Join(parts, ":") }

// Wrap marks err as Redis being unreachable when it is a network error or
// a timeout, so that callers can report the cluster degraded; other
// errors (redis.Nil, a script's error) pass unchanged.
func Wrap(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, redis.ErrPoolTimeout) || strings.Contains(err.Error(), "connection refused") ||
		strings.Contains(err.Error(), "LOADING") || errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// Health is nil while Redis answers, else why not.
func (c *Cluster) Health() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// OnReconnect registers fn to run each time Redis answers again after it
// did not (the endpoint directory re-registers its endpoints). fn runs on
// the health loop's goroutine; it must not block for long.
func (c *Cluster) OnReconnect(fn func(context.Context)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onReconnect = append(c.onReconnect, fn)
}

// Run checks Redis every PingEvery until ctx ends, logging each change of
// health and running the OnReconnect hooks when it comes back.
func (c *Cluster) Run(ctx context.Context) {
	t := time.NewTicker(c.pingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, c.pingEvery+time.Second)
		err := c.rdb.Ping(pctx).Err()
		cancel()
		if ctx.Err() != nil {
			return
		}
		c.setHealth(ctx, err)
	}
}

func (c *Cluster) setHealth(ctx context.Context, err error) {
	c.mu.Lock()
	was := c.lastErr
	if err != nil {
		c.lastErr = fmt.Errorf("%w: %w", ErrUnavailable, err)
	} else {
		c.lastErr = nil
	}
	hooks := append([]func(context.Context){}, c.onReconnect...)
	c.mu.Unlock()
	switch {
	case was == nil && err != nil:
		c.log.Error("cluster degraded: redis unreachable", "node", c.nodeID, "err", err)
	case was != nil && err == nil:
		c.log.Info("cluster recovered: redis answers again", "node", c.nodeID)
		for _, fn := range hooks {
			fn(ctx)
		}
	}
}

// Close closes the Redis client.
func (c *Cluster) Close() error { return c.rdb.Close() }

// Secret returns the cluster secret: 32 random bytes made by the first node
// that asked and kept in Redis, from which node-to-node credentials are
// derived. Whoever can read Redis can already rewrite users and policy, so
// the secret adds no new trust in Redis.
func (c *Cluster) Secret(ctx context.Context) ([]byte, error) {
	key := Key("secret")
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	if err := c.rdb.SetNX(ctx, key, hex.EncodeToString(b[:]), 0).Err(); err != nil {
		return nil, fmt.Errorf("cluster secret: %w", Wrap(err))
	}
	v, err := c.rdb.Get(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster secret: %w", Wrap(err))
	}
	s, err := hex.DecodeString(v)
	if err != nil || len(s) < 32 {
		return nil, fmt.Errorf("cluster secret %s in redis is malformed", key)
	}
	return s, nil
}
