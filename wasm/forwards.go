package main

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/tubegate/tubegate/internal/forward"
	"github.com/tubegate/tubegate/internal/gwclient"
)

// Forward is a -L or -R forward of the page, owned by a host connection.
type Forward struct {
	ID   string
	Spec gwclient.Spec
	// Listen is where connections are accepted: the gateway's endpoint for
	// -L (a loopback address or a virtual name), the host's address for -R.
	Listen string
	// Endpoint is the gateway's endpoint key, for share links (-L only).
	Endpoint string
	// Conns are the forward's live connections and their Stats.
	forward.Conns

	host      *Host
	port      int          // the bind port actually used
	ln        net.Listener // the host's listener (-R) or the gateway's (-L)
	closeOnce sync.Once
	mu        sync.Mutex
	lastErr   string
}

// ForwardInfo is a forward as the page shows it.
type ForwardInfo struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Spec     string `json:"spec"`
	Listen   string `json:"listen"`
	Endpoint string `json:"endpoint"`
	Target   string `json:"target"`
	Active   int64  `json:"active"`
	Total    int64  `json:"total"`
	BytesIn  int64  `json:"bytesIn"`
	BytesOut int64  `json:"bytesOut"`
	LastErr  string `json:"lastError"`
	// Again is the spec that asks for the same endpoint again, with the
	// bind port the listener got (a -L 0 or -R 0 pinned to its port): the
	// page adds it when the console reconnects, so share links that name
	// the endpoint keep working.
	Again string `json:"again"`
}

// Info snapshots the forward.
func (f *Forward) Info() ForwardInfo {
	s := f.Stats.Snapshot()
	f.mu.Lock()
	lastErr := f.lastErr
	f.mu.Unlock()
	return ForwardInfo{
		ID: f.ID, Kind: string(f.Spec.Kind), Spec: f.Spec.String(), Listen: f.Listen, Endpoint: f.Endpoint,
		Target: forward.JoinHostPort(f.Spec.Host, f.Spec.Port), Active: s.Active, Total: s.Total,
		BytesIn: s.BytesIn, BytesOut: s.BytesOut, LastErr: lastErr, Again: f.again(),
	}
}

// again is the forward's spec with the bind port its listener got, as
// gateway tunnel asks for an allocated -R 0 port again after a reconnect.
func (f *Forward) again() string {
	sp := f.Spec
	if f.port != 0 {
		sp.BindPort = f.port
	}
	return sp.String()
}

// AddForward sets up a forward in OpenSSH's -L / -R syntax:
//   - -L: the gateway listens; each connection comes to the page and goes
//     on in a direct-tcpip channel of this host connection, so the
//     destination is as seen from the host.
//   - -R: the host listens; each connection comes back to the page and goes
//     out through the gateway, which dials the destination under the
//     user's policy.
func (h *Host) AddForward(ctx context.Context, spec string) (ForwardInfo, error) {
	sp, err := parseSpec(spec)
	if err != nil {
		return ForwardInfo{}, err
	}
	h.mu.Lock()
	h.nextID++
	n := int64(h.nextID)
	h.mu.Unlock()
	if h.IDs != nil {
		n = h.IDs.Add(1)
	}
	f := &Forward{ID: "f" + strconv.FormatInt(n, 10), Spec: sp, host: h}
	if sp.Kind == 'L' {
		err = f.startLocal()
	} else {
		err = f.startRemote()
	}
	if err != nil {
		return ForwardInfo{}, err
	}
	h.mu.Lock()
	h.forwards[f.ID] = f
	h.mu.Unlock()
	return f.Info(), nil
}

// RemoveForward stops a forward and cuts its connections.
func (h *Host) RemoveForward(id string) error {
	h.mu.Lock()
	f := h.forwards[id]
	delete(h.forwards, id)
	h.mu.Unlock()
	if f == nil {
		return fmt.Errorf("no forward %s", id)
	}
	return f.close()
}

// Forwards lists the host connection's forwards in the order made.
func (h *Host) Forwards() []ForwardInfo {
	h.mu.Lock()
	out := make([]ForwardInfo, 0, len(h.forwards))
	for _, f := range h.forwards {
		out = append(out, f.Info())
	}
	h.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(strings.TrimPrefix(out[i].ID, "f"))
		b, _ := strconv.Atoi(strings.TrimPrefix(out[j].ID, "f"))
		return a < b
	})
	return out
}

func (h *Host) closeForwards() {
	h.mu.Lock()
	fs := h.forwards
	h.forwards = make(map[string]*Forward)
	h.mu.Unlock()
	for _, f := range fs {
		f.close()
	}
}

func (f *Forward) startLocal() error {
	ln, err := f.host.gw.tube.Listen(f.Spec.BindHost, f.Spec.BindPort)
	if err != nil {
		return err
	}
	f.serveGatewayListener(ln, func(ctx context.Context, _ net.Conn) (net.Conn, error) {
		c, err := f.host.client.DialContext(ctx, "tcp", f.Spec.Target())
		if err != nil {
			return nil, fmt.Errorf("%s could not connect to %s: %w", f.host.Target, f.Spec.Target(), err)
		}
		return c, nil
	})
	return nil
}

// serveGatewayListener carries each connection to the gateway's listener
// ln out through dial, and shows on the forward's row when the gateway
// says the listener died.
func (f *Forward) serveGatewayListener(ln *gwclient.Listener, dial gwclient.DialFunc) {
	f.ln = ln
	f.port = ln.Port
	f.Endpoint = ln.Address.String()
	f.Listen = f.Endpoint
	go gwclient.Serve(ln, dial, &f.Conns, f.fail)
	go func() {
		<-ln.Lost()
		f.fail(fmt.Errorf("%w: remove this forward and add it again", ln.LostErr()))
	}()
}

func (f *Forward) startRemote() error {
	ip := net.ParseIP(f.Spec.BindHost)
	switch {
	case strings.EqualFold(f.Spec.BindHost, "localhost"):
		ip = net.IPv4(127, 0, 0, 1)
	case ip == nil:
		return fmt.Errorf("-R: the host listens on an address; %q is not one", f.Spec.BindHost)
	}
	ln, err := f.host.client.ListenTCP(&net.TCPAddr{IP: ip, Port: f.Spec.BindPort})
	if err != nil {
		return fmt.Errorf("%s refused to listen on %s: %w", f.host.Target, forward.JoinHostPort(ip.String(), f.Spec.BindPort), err)
	}
	f.ln = ln
	f.port = ln.Addr().(*net.TCPAddr).Port
	f.Listen = ln.Addr().String()
	// Each connection to the host's listener goes out through the gateway.
	go gwclient.Serve(ln, func(ctx context.Context, _ net.Conn) (net.Conn, error) {
		return f.host.gw.Open(ctx, f.Spec.Host, f.Spec.Port)
	}, &f.Conns, f.fail)
	return nil
}

func (f *Forward) fail(err error) {
	f.mu.Lock()
	f.lastErr = err.Error()
	f.mu.Unlock()
}

// close stops accepting and cuts live connections; it may be called more
// than once. Closing the gateway's listener cancels its tcpip-forward.
func (f *Forward) close() error {
	var err error
	f.closeOnce.Do(func() {
		if f.ln != nil {
			err = f.ln.Close()
		}
		f.Cut()
	})
	return err
}

// parseSpec parses a forward from the page: -L or -R only, and the
// gateway, which listens for -L, listens on loopback or a name, not *.
func parseSpec(spec string) (gwclient.Spec, error) {
	sp, err := gwclient.ParseSpec(spec)
	switch {
	case err != nil:
		return sp, err
	case sp.Kind != 'L' && sp.Kind != 'R':
		return gwclient.Spec{}, fmt.Errorf("forward %q: the page makes -L and -R forwards", spec)
	case sp.Kind == 'L' && sp.BindHost == "*":
		return gwclient.Spec{}, fmt.Errorf("forward %q: the gateway listens on loopback or a named address, not *", spec)
	}
	return sp, nil
}
