package nodelink

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tubegate/tubegate/internal/cluster"
	"github.com/tubegate/tubegate/internal/forward"
)

// ErrAuth is wrapped by the error of a request the peer refused as not
// authenticated: the nodes do not share the cluster secret, their clocks
// are more than the skew apart, or the directory named the wrong node.
var ErrAuth = errors.New("node link authentication refused")

// PeerError is a peer's refusal of a request: its HTTP status and what it
// said. A 409 (the tube no longer holds the endpoint, or the endpoint
// refused the connection) and a 429 (the peer's stream cap) wrap
// forward.ErrRefused; a 401 or 403 wraps ErrAuth.
type PeerError struct {
	Node   string
	Status int
	Msg    string
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("cluster node %s: %s", e.Node, e.Msg)
}

// Unwrap classifies the refusal.
func (e *PeerError) Unwrap() error {
	switch e.Status {
	case http.StatusConflict, http.StatusTooManyRequests:
		return forward.ErrRefused
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrAuth
	}
	return nil
}

// aLongTimeAgo is a deadline that has passed: it unblocks a connection's
// reads and writes at once.
var aLongTimeAgo = time.Unix(1, 0)

// Open carries a connection to the endpoint key held by tube on node, as
// if from origin: node re-checks that tube still holds key and delivers
// it into the tube. A refusal is a *PeerError; the returned connection
// half-closes (CloseWrite) through to the tube's channel.
func (l *Link) Open(ctx context.Context, node cluster.Node, key, tube string, origin net.Addr) (net.Conn, error) {
	q := url.Values{qKey: {key}, qTube: {tube}}
	c := claim{method: http.MethodGet, path: PathOpen, key: key, tube: tube}
	if origin != nil {
		c.originNet, c.origin = origin.Network(), origin.String()
		q.Set(qOriginNet, c.originNet)
		q.Set(qOrigin, c.origin)
	}
	u, err := peerURL(node, PathOpen, q)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, l.cfg.OpenTimeout)
	defer cancel()
	conn, err := l.dial(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("cluster node %s at %s unreachable: %w", node.ID, node.Addr, err)
	}
	// Until the peer has answered, ctx bounds every read and write.
	unwatch := context.AfterFunc(ctx, func() { conn.SetDeadline(aLongTimeAgo) })
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		unwatch()
		conn.Close()
		return nil, fmt.Errorf("cluster node %s: %w", node.ID, err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", Proto)
	l.sign(&c, node, req.Header)
	br := bufio.NewReader(conn)
	resp, err := roundTrip(conn, br, req)
	if !unwatch() {
		err = cmpErr(ctx.Err(), err)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("cluster node %s at %s: open %s: %w", node.ID, node.Addr, key, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || !headerHas(resp.Header, "Upgrade", Proto) {
		perr := peerError(node, resp)
		conn.Close()
		return nil, perr
	}
	conn.SetDeadline(time.Time{})
	l.m.open("out")
	return newStreamConn(conn, br, func() { l.m.closed("out") }), nil
}

// cmpErr is the first non-nil error.
func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// roundTrip writes req on conn and reads the answer's head.
func roundTrip(conn net.Conn, br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if err := req.Write(conn); err != nil {
		return nil, err
	}
	return http.ReadResponse(br, req)
}

// peerError reads a refusal's message (its first KiB) into a *PeerError.
func peerError(node cluster.Node, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		msg = resp.Status
	}
	return &PeerError{Node: node.ID, Status: resp.StatusCode, Msg: msg}
}

// dial connects to u's host, over TLS for https, verifying the peer's
// certificate against the system roots and --cluster-ca.
func (l *Link) dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	conn, err := l.dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil || u.Scheme != "https" {
		return conn, err
	}
	tc := l.tls.Clone()
	tc.ServerName = u.Hostname()
	tconn := tls.Client(conn, tc)
	if err := tconn.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tconn, nil
}

// sign stamps c (method, path, key, tube and origin set) for node.
func (l *Link) sign(c *claim, node cluster.Node, h http.Header) {
	c.from, c.to, c.ts = l.cfg.NodeID, node.ID, l.now().Unix()
	c.sign(l.key, h)
}

// peerURL is the URL of path on node, with query q; it adds the default
// port, since the dial needs one.
func peerURL(node cluster.Node, path string, q url.Values) (*url.URL, error) {
	u, err := url.Parse(node.Addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
		(u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("cluster node %s: node address %q: want http(s)://HOST[:PORT]", node.ID, node.Addr)
	}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	u.Path, u.RawQuery = path, q.Encode()
	return u, nil
}

// Probe asks node whether tube still answers.
func (l *Link) Probe(ctx context.Context, node cluster.Node, tube string) (bool, error) {
	resp, err := l.post(ctx, node, PathProbe, tube)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, peerError(node, resp)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	switch strings.TrimSpace(string(b)) {
	case "alive":
		return true, nil
	case "silent":
		return false, nil
	}
	return false, fmt.Errorf("cluster node %s: probe %s: unexpected answer %q", node.ID, tube, b)
}

// CloseTube asks node to end tube.
func (l *Link) CloseTube(ctx context.Context, node cluster.Node, tube string) error {
	resp, err := l.post(ctx, node, PathClose, tube)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return peerError(node, resp)
	}
	return nil
}

// post sends a signed POST about tube to node's path.
func (l *Link) post(ctx context.Context, node cluster.Node, path, tube string) (*http.Response, error) {
	u, err := peerURL(node, path, url.Values{qTube: {tube}})
	if err != nil {
		return nil, err
	}
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, l.cfg.ProbeTimeout)
	}
	resp, err := l.do(ctx, node, u, path, tube)
	if err != nil {
		cancel()
		return nil, err
	}
	// The body is read under ctx: cancel when it is closed.
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

func (l *Link) do(ctx context.Context, node cluster.Node, u *url.URL, path, tube string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("cluster node %s: %w", node.ID, err)
	}
	c := claim{method: http.MethodPost, path: path, tube: tube}
	l.sign(&c, node, req.Header)
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cluster node %s at %s unreachable: %w", node.ID, node.Addr, err)
	}
	return resp, nil
}

// cancelOnClose cancels a request's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
