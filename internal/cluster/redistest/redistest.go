// Package redistest starts a throw-away redis-server (Debian's) on a
// loopback port for a test, with an append-only file in a temp dir (so a
// restart keeps the data, as a production Redis would), and stops it at
// cleanup.
package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	Addr string // 127.0.0.1:PORT
	cmd  *exec.Cmd
	dir  string
	port int
	t    testing.TB
}

// URL is redis://Addr.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Start runs redis-server on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not installed (scripts/install-deps.sh installs it): %v", err)
	}
	s := &Server{dir: t.TempDir(), t: t}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	conf := fmt.Sprintf("bind 127.0.0.1\nport %d\nsave \"\"\nappendonly yes\nappendfsync always\ndir %s\nprotected-mode yes\n", s.port, s.dir)
	path := filepath.Join(s.dir, "redis.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = exec.Command("redis-server", path)
	s.cmd.Stdout = nil
	s.cmd.Stderr = nil
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not start: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (a real outage: clients see connection refused).
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart kills the server and starts it again on the same port, with the
// data it had (from its append-only file).
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}
