package proxyprotocol

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	pp "github.com/pires/go-proxyproto"
)

// serve listens on loopback with the PROXY rules, trusting the peers
// trusted says, and returns the listener.
func serve(t *testing.T, trusted bool, log *bytes.Buffer) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return Wrap(ln, func(netip.Addr) bool { return trusted }, 2*time.Second, slog.New(slog.NewTextHandler(log, nil)))
}

// exchange dials l, sends each of parts (pausing between them), and
// returns the accepted connection's RemoteAddr and what it read until
// EOF or an error.
func exchange(t *testing.T, l *Listener, parts ...[]byte) (net.Addr, []byte, error) {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for _, p := range parts {
			c.Write(p)
			time.Sleep(20 * time.Millisecond)
		}
		c.(*net.TCPConn).CloseWrite()
	}()
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(5 * time.Second))
	remote := s.RemoteAddr()
	var got []byte
	buf := make([]byte, 3) // small reads, to test what is held back
	for {
		n, err := s.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return remote, got, err
		}
	}
}

const banner = "SSH-2.0-OpenSSH_9.2\r\n"

func TestTrustedProxyV1(t *testing.T) {
	var log bytes.Buffer
	l := serve(t, true, &log)
	remote, got, err := exchange(t, l, []byte("PROXY TCP4 127.0.0.7 127.0.0.1 40000 2222\r\n"+banner))
	if err != nil || string(got) != banner {
		t.Fatalf("read %q, %v; want the banner", got, err)
	}
	if remote.String() != "127.0.0.7:40000" {
		t.Errorf("RemoteAddr = %s, want the client's 127.0.0.7:40000", remote)
	}
}

func TestTrustedProxyV2(t *testing.T) {
	var log bytes.Buffer
	l := serve(t, true, &log)
	h := pp.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 8), Port: 41000}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222})
	hdr, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	remote, got, err := exchange(t, l, hdr, []byte(banner))
	if err != nil || string(got) != banner {
		t.Fatalf("read %q, %v; want the banner", got, err)
	}
	if remote.String() != "127.0.0.8:41000" {
		t.Errorf("RemoteAddr = %s, want the client's 127.0.0.8:41000", remote)
	}
}

func TestTrustedProxyWithoutHeaderRefused(t *testing.T) {
	var log bytes.Buffer
	l := serve(t, true, &log)
	remote, got, err := exchange(t, l, []byte(banner))
	if err == nil || len(got) != 0 {
		t.Fatalf("read %q, %v; want nothing and an error", got, err)
	}
	if !strings.HasPrefix(remote.String(), "127.0.0.1:") {
		t.Errorf("RemoteAddr = %s, want the proxy's own", remote)
	}
	if !strings.Contains(log.String(), "trusted proxy sent no valid PROXY header") {
		t.Errorf("no log line for the refusal:\n%s", log.String())
	}
}

func TestUntrustedHeaderRefused(t *testing.T) {
	h := pp.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.IPv4(10, 9, 9, 9), Port: 1}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222})
	v2, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	for name, parts := range map[string][][]byte{
		"v1":        {[]byte("PROXY TCP4 10.9.9.9 127.0.0.1 1 2222\r\n" + banner)},
		"v1 slowly": {[]byte("PR"), []byte("OX"), []byte("Y TCP4 10.9.9.9 127.0.0.1 1 2222\r\n")},
		"v2":        {v2, []byte(banner)},
		"v2 split":  {v2[:5], v2[5:]},
	} {
		var log bytes.Buffer
		l := serve(t, false, &log)
		remote, got, err := exchange(t, l, parts...)
		if !errors.Is(err, ErrUntrusted) || len(got) != 0 {
			t.Errorf("%s: read %q, %v; want nothing and ErrUntrusted", name, got, err)
		}
		if !strings.HasPrefix(remote.String(), "127.0.0.1:") {
			t.Errorf("%s: RemoteAddr = %s, want the peer's own", name, remote)
		}
		if !strings.Contains(log.String(), "not a trusted proxy") {
			t.Errorf("%s: no log line for the refusal:\n%s", name, log.String())
		}
	}
}

func TestUntrustedPlainPassesUntouched(t *testing.T) {
	for name, parts := range map[string][][]byte{
		"banner":         {[]byte(banner)},
		"byte by byte":   {[]byte("S"), []byte("S"), []byte("H-2.0-x\r\n")},
		"like PROXY":     {[]byte("PROXZ"), []byte(" more")},
		"like v2":        {[]byte("\r\n\r\nhello")},
		"nothing at all": nil,
	} {
		var log bytes.Buffer
		l := serve(t, false, &log)
		_, got, err := exchange(t, l, parts...)
		want := string(bytes.Join(parts, nil))
		if err != nil || string(got) != want {
			t.Errorf("%s: read %q, %v; want %q", name, got, err, want)
		}
		if log.Len() != 0 {
			t.Errorf("%s: logged %s", name, log.String())
		}
	}
}
