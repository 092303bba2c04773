//go:build !js

package bridge

// The lean client's opening: the HTTP upgrade and its checks.

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// dialLean opens a WebSocket on raw, the connection to the gateway (or a
// CONNECT tunnel to it), asking for subprotocols.
func dialLean(ctx context.Context, u *url.URL, raw net.Conn, header http.Header, subprotocols []string) (*leanWS, error) {
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	c, err := upgrade(u, raw, header, subprotocols)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u.Redacted(), err)
	}
	raw.SetDeadline(time.Time{})
	return c, nil
}

// upgrade sends the upgrade request and checks the answer (RFC 6455 §4.1).
func upgrade(u *url.URL, raw net.Conn, header http.Header, subprotocols []string) (*leanWS, error) {
	var nonce [16]byte
	crand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	hu := *u
	hu.Scheme, hu.User = "http", nil
	req := &http.Request{Method: http.MethodGet, URL: &hu, Host: u.Host, Header: header.Clone(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	if len(subprotocols) > 0 {
		req.Header.Set("Sec-WebSocket-Protocol", strings.Join(subprotocols, ", "))
	}
	bw := bufio.NewWriterSize(raw, 1024)
	if err := req.Write(bw); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	cr := &cappedReader{r: raw}
	br := bufio.NewReaderSize(cr, leanReadBuf)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("reply to the upgrade: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("refused: %s", resp.Status)
	}
	switch {
	case !strings.EqualFold(resp.Header.Get("Upgrade"), "websocket"):
		return nil, fmt.Errorf("upgrade answered with Upgrade %q", resp.Header.Get("Upgrade"))
	case !headerHasToken(resp.Header, "Connection", "upgrade"):
		return nil, fmt.Errorf("upgrade answered with Connection %q", resp.Header.Get("Connection"))
	case resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key):
		return nil, errors.New("upgrade answered with a wrong Sec-WebSocket-Accept")
	case resp.Header.Get("Sec-WebSocket-Extensions") != "":
		return nil, fmt.Errorf("upgrade answered with extensions %q that were not asked for", resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	sub := resp.Header.Get("Sec-WebSocket-Protocol")
	if sub != "" && !contains(subprotocols, sub) {
		return nil, fmt.Errorf("upgrade answered with subprotocol %q that was not asked for", sub)
	}
	var seed [32]byte
	crand.Read(seed[:])
	return &leanWS{conn: raw, br: br, cr: cr, subprotocol: sub, gone: make(chan struct{}), rng: rand.NewChaCha8(seed)}, nil
}

// cappedReader reads at most max bytes at a time (0: no cap).
type cappedReader struct {
	r   io.Reader
	max int
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.max > 0 && len(p) > c.max {
		p = p[:c.max]
	}
	return c.r.Read(p)
}

// bulkFrameHeader is the header of a frame of 64 KiB or more. While such
// frames come, BeginMessage reads no more than that and the n bytes asked
// for from the connection: the payload behind is then spliced whole,
// where reading ahead into the buffer would take a copy and a write of its
// first bytes.
const bulkFrameHeader = 10

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
