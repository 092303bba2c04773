// Package socks5 is the server side of a SOCKS5 CONNECT (RFC 1928) without
// authentication, as `gateway tunnel -D` offers it on loopback: read the
// request, let the caller open the destination, write the reply. No module
// of the Go proxy serves a maintained SOCKS5 server library here, and
// CONNECT alone is small.
package socks5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
)

// Reply codes of RFC 1928 section 6.
const (
	Succeeded           byte = 0x00
	GeneralFailure      byte = 0x01
	NotAllowed          byte = 0x02 // connection not allowed by ruleset
	NetworkUnreachable  byte = 0x03
	HostUnreachable     byte = 0x04
	ConnectionRefused   byte = 0x05
	CommandNotSupported byte = 0x07
	AddressNotSupported byte = 0x08
)

const (
	version      = 0x05
	methodNone   = 0x00
	noMethod     = 0xff
	cmdConnect   = 0x01
	atypIPv4     = 0x01
	atypDomain   = 0x03
	atypIPv6     = 0x04
	maxMethods   = 255
	replyPadding = 6 // ATYP IPv4 0.0.0.0 port 0 after VER REP RSV
)

// ErrRefused is wrapped by ReadRequest's error when it has already
// answered the client with a refusal.
var ErrRefused = errors.New("socks5: refused")

// ReadRequest reads a client's greeting and CONNECT request from rw and
// returns the destination: host is an IP address or a domain name as
// sent. A request it cannot serve (another auth method, command or
// address type) is answered with the matching refusal, and the error
// wraps ErrRefused.
func ReadRequest(rw io.ReadWriter) (host string, port int, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(rw, hdr[:]); err != nil {
		return "", 0, fmt.Errorf("socks5 greeting: %w", err)
	}
	if hdr[0] != version {
		return "", 0, fmt.Errorf("socks5 greeting: version %d, want 5", hdr[0])
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(rw, methods); err != nil {
		return "", 0, fmt.Errorf("socks5 greeting: %w", err)
	}
	ok := false
	for _, m := range methods {
		ok = ok || m == methodNone
	}
	if !ok {
		rw.Write([]byte{version, noMethod})
		return "", 0, fmt.Errorf("%w: the client offers no method without authentication", ErrRefused)
	}
	if _, err := rw.Write([]byte{version, methodNone}); err != nil {
		return "", 0, fmt.Errorf("socks5 method: %w", err)
	}
	var req [4]byte // VER CMD RSV ATYP
	if _, err := io.ReadFull(rw, req[:]); err != nil {
		return "", 0, fmt.Errorf("socks5 request: %w", err)
	}
	if req[0] != version {
		return "", 0, fmt.Errorf("socks5 request: version %d, want 5", req[0])
	}
	switch req[3] {
	case atypIPv4, atypIPv6:
		b := make([]byte, 4)
		if req[3] == atypIPv6 {
			b = make([]byte, 16)
		}
		if _, err := io.ReadFull(rw, b); err != nil {
			return "", 0, fmt.Errorf("socks5 request: %w", err)
		}
		a, _ := netip.AddrFromSlice(b)
		host = a.Unmap().String()
	case atypDomain:
		var n [1]byte
		if _, err := io.ReadFull(rw, n[:]); err != nil {
			return "", 0, fmt.Errorf("socks5 request: %w", err)
		}
		b := make([]byte, n[0])
		if _, err := io.ReadFull(rw, b); err != nil {
			return "", 0, fmt.Errorf("socks5 request: %w", err)
		}
		host = string(b)
	default:
		Reply(rw, AddressNotSupported)
		return "", 0, fmt.Errorf("%w: address type %d", ErrRefused, req[3])
	}
	var p [2]byte
	if _, err := io.ReadFull(rw, p[:]); err != nil {
		return "", 0, fmt.Errorf("socks5 request: %w", err)
	}
	port = int(binary.BigEndian.Uint16(p[:]))
	if req[1] != cmdConnect {
		Reply(rw, CommandNotSupported)
		return "", 0, fmt.Errorf("%w: command %d to %s (only CONNECT is served)", ErrRefused, req[1], net.JoinHostPort(host, strconv.Itoa(port)))
	}
	if host == "" || port == 0 {
		Reply(rw, AddressNotSupported)
		return "", 0, fmt.Errorf("%w: empty host or port 0", ErrRefused)
	}
	return host, port, nil
}

// Reply writes a reply with code. The bound address is given as 0.0.0.0
// port 0: the connection is a channel of a tube, with no address of its
// own worth telling.
func Reply(w io.Writer, code byte) error {
	b := make([]byte, 4+replyPadding)
	b[0], b[1], b[3] = version, code, atypIPv4
	_, err := w.Write(b)
	return err
}
