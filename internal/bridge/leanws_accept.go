//go:build !js

package bridge

// leanWS's opening as the gateway: the checks of the upgrade request and
// the answer (RFC 6455 §4.2).

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tubegate/tubegate/internal/idlepoll"
	"github.com/tubegate/tubegate/internal/writev"
)

// readBufSize is the gateway's read buffer on a WebSocket: room for the
// small messages of an idle or interactive tube (keepalives, window
// adjusts, keystrokes) in one read. A larger message is read in two: its
// header with the start of its payload, then the rest straight into the
// reader's buffer (as a 4 KiB bufio.Reader does for most of a message
// larger than 4 KiB). An idle tube holds this buffer for its life.
const readBufSize = 128

// upgradeError is a refused upgrade: the status it was answered with and
// why.
type upgradeError struct {
	status int
	msg    string
}

func (e *upgradeError) Error() string { return e.msg }

// acceptLean answers an upgrade request with the gateway's end of a
// WebSocket, choosing the first of the client's subprotocols that is in
// subprotocols. A request that is not a WebSocket upgrade of version 13,
// or whose Origin is not the request's own host (cross-site WebSocket
// hijacking; native clients send no Origin), is answered with its error
// status and refused.
//
// Where idle is not nil and the socket is plain TCP, the reader of a raw
// tube parks there while the client is idle (leanws_park.go).
func acceptLean(w http.ResponseWriter, r *http.Request, subprotocols []string, idle *idlepoll.Poller) (*leanWS, error) {
	key, err := checkUpgrade(w.Header(), r)
	if err != nil {
		var ue *upgradeError
		if errors.As(err, &ue) {
			http.Error(w, ue.msg, ue.status)
		}
		return nil, err
	}
	sub := chooseSubprotocol(r.Header, subprotocols)
	h := w.Header()
	h.Set("Upgrade", "websocket")
	h.Set("Connection", "Upgrade")
	h.Set("Sec-WebSocket-Accept", acceptKey(key))
	if sub != "" {
		h.Set("Sec-WebSocket-Protocol", sub)
	}
	w.WriteHeader(http.StatusSwitchingProtocols)
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("hijack: %w", err)
	}
	// net/http may have set deadlines for the request; the WebSocket
	// lives until it is closed.
	nc.SetDeadline(time.Time{})
	c := &leanWS{conn: nc, server: true, subprotocol: sub, gone: make(chan struct{}), sock: writev.Socket(nc)}
	var past []byte // frames the client sent behind its request, read with it
	if n := brw.Reader.Buffered(); n > 0 {
		p, _ := brw.Reader.Peek(n) // n are buffered: no read, no error
		past = bytes.Clone(p)
	}
	switch c.park = newParkingConn(nc, idle, past); {
	case c.park != nil:
		c.conn = c.park
		c.br = bufio.NewReaderSize(c.park, readBufSize)
	case past != nil:
		c.br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(past), nc), readBufSize)
	default:
		c.br = bufio.NewReaderSize(nc, readBufSize)
	}
	return c, nil
}

// checkUpgrade checks r is a WebSocket upgrade the gateway takes and
// returns its Sec-WebSocket-Key; an *upgradeError says why not, with
// headers the answer needs set in h.
func checkUpgrade(h http.Header, r *http.Request) (string, error) {
	refuse := func(status int, format string, a ...any) (string, error) {
		return "", &upgradeError{status: status, msg: "websocket: " + fmt.Sprintf(format, a...)}
	}
	switch {
	case !r.ProtoAtLeast(1, 1):
		return refuse(http.StatusUpgradeRequired, "the upgrade request is %s, not HTTP/1.1 or later", r.Proto)
	case !headerHasToken(r.Header, "Connection", "upgrade"), !headerHasToken(r.Header, "Upgrade", "websocket"):
		h.Set("Connection", "Upgrade")
		h.Set("Upgrade", "websocket")
		return refuse(http.StatusUpgradeRequired, "not an upgrade to a WebSocket (Connection %q, Upgrade %q)", r.Header.Get("Connection"), r.Header.Get("Upgrade"))
	case r.Method != http.MethodGet:
		return refuse(http.StatusMethodNotAllowed, "the upgrade request's method is %s, not GET", r.Method)
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		h.Set("Sec-WebSocket-Version", "13")
		return refuse(http.StatusBadRequest, "WebSocket version %q (only 13 is spoken)", r.Header.Get("Sec-WebSocket-Version"))
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return refuse(http.StatusBadRequest, "%d Sec-WebSocket-Key headers, not one", len(keys))
	}
	key := strings.TrimSpace(keys[0])
	if v, err := base64.StdEncoding.DecodeString(key); err != nil || len(v) != 16 {
		return refuse(http.StatusBadRequest, "Sec-WebSocket-Key %q is not 16 bytes in base64", key)
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" {
			return refuse(http.StatusForbidden, "Origin %q is not a URL with a host", origin)
		}
		if !strings.EqualFold(u.Host, r.Host) {
			return refuse(http.StatusForbidden, "Origin %q is not authorized for Host %q", u.Host, r.Host)
		}
	}
	return key, nil
}

// chooseSubprotocol is the first of the client's subprotocols (in the
// order it asked) that is in ours, or "".
func chooseSubprotocol(h http.Header, ours []string) string {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); contains(ours, p) {
				return p
			}
		}
	}
	return ""
}

// acceptKey is Sec-WebSocket-Accept for the client's key.
func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// acceptAddrs are the addresses a tube accepted on r reports: the
// listener's, and the client's as the request gives it (after a proxy
// protocol header, the client's own), each nil where r does not say.
func acceptAddrs(r *http.Request) (local, remote net.Addr) {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local = a
	}
	if a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr); err == nil {
		remote = a
	}
	return local, remote
}
