package main

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
)

// openTimeout bounds opening the far side of one forwarded connection.
const openTimeout = 30 * time.Second

// Forward is a -L or -R forward of the page, owned by a host connection.
type Forward struct {
	ID   string
	Spec Spec
	// Listen is where connections are accepted: the gateway's endpoint for
	// -L (a loopback address or a virtual name), the host's address for -R.
	Listen string
	// Endpoint is the gateway's endpoint key, for share links (-L only).
	Endpoint string
	// Conns are the forward's live connections and their Stats.
	forward.Conns

	host      *Host
	port      int          // the bind port actually used
	ln        net.Listener // -R: the host's listener
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
		BytesIn: s.BytesIn, BytesOut: s.BytesOut, LastErr: lastErr,
	}
}

// AddForward sets up a forward in OpenSSH's -L / -R syntax:
//   - -L: the gateway listens; each connection comes to the page and goes
//     on in a direct-tcpip channel of this host connection, so the
//     destination is as seen from the host.
//   - -R: the host listens; each connection comes back to the page and goes
//     out through the gateway, which dials the destination under the
//     user's policy.
func (h *Host) AddForward(ctx context.Context, spec string) (ForwardInfo, error) {
	sp, err := ParseSpec(spec)
	if err != nil {
		return ForwardInfo{}, err
	}
	h.mu.Lock()
	h.nextID++
	f := &Forward{ID: "f" + strconv.Itoa(h.nextID), Spec: sp, host: h}
	h.mu.Unlock()
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
	port, err := f.host.gw.Listen(f.Spec.BindHost, f.Spec.BindPort, f)
	if err != nil {
		return err
	}
	f.port = port
	f.Endpoint = forward.AddressOf(f.Spec.BindHost, port).String()
	f.Listen = f.Endpoint
	return nil
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
	go f.acceptRemote()
	return nil
}

// acceptRemote carries each connection to the host's listener out through
// the gateway.
func (f *Forward) acceptRemote() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
			defer cancel()
			out, err := f.host.gw.Open(ctx, f.Spec.Host, f.Spec.Port, c.RemoteAddr())
			if err != nil {
				f.fail(err)
				c.Close()
				return
			}
			f.pipe(c, out)
		}()
	}
}

// serveGatewayChannel carries one connection to the gateway's listener
// into a direct-tcpip channel of the host connection.
func (f *Forward) serveGatewayChannel(nc ssh.NewChannel, origin net.Addr) {
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	out, err := f.host.client.DialContext(ctx, "tcp", forward.JoinHostPort(f.Spec.Host, f.Spec.Port))
	if err != nil {
		f.fail(fmt.Errorf("%s could not connect to %s: %w", f.host.Target, forward.JoinHostPort(f.Spec.Host, f.Spec.Port), err))
		nc.Reject(ssh.ConnectionFailed, err.Error())
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		out.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	f.pipe(forward.ChannelConn(ch, forward.Addr{Net: "browser", Address: f.Listen}, origin), out)
}

// pipe copies between the connecting side in and the far side out,
// counting bytes (in: towards the destination; out: back).
func (f *Forward) pipe(in, out net.Conn) {
	counted, ok := f.Track(in, false)
	if !ok { // the forward is closing
		in.Close()
		out.Close()
		return
	}
	forward.Pipe(counted, out)
}

func (f *Forward) fail(err error) {
	f.mu.Lock()
	f.lastErr = err.Error()
	f.mu.Unlock()
}

// close stops accepting and cuts live connections; it may be called more
// than once.
func (f *Forward) close() error {
	var err error
	f.closeOnce.Do(func() {
		if f.Spec.Kind == 'L' {
			err = f.host.gw.Unlisten(f.Spec.BindHost, f.port)
		} else if f.ln != nil {
			err = f.ln.Close()
		}
		f.Cut()
	})
	return err
}
