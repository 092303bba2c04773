package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tubegate/tubegate/internal/throwaway"
)

// sshd is a throw-away OpenSSH server on a loopback port with its own host key and config.
type sshd struct {
	port       int
	addr       string // 127.0.0.1:port
	hostKeyPub string // "ssh-ed25519 AAAA... comment"
	proc       *proc
}

var sshdListening = regexp.MustCompile(`Server listening on 127\.0\.0\.1 port (\d+)`)

// startSSHD runs `sshd -D -e -f CONFIG` in dir, accepting the given public keys (file contents)
// for the current user, and waits until it listens. It works when run as root: PermitRootLogin
// yes, no PAM, no StrictModes, and /run/sshd (the privilege separation dir) is created if missing.
func startSSHD(t *testing.T, tl tools, dir string, authorizedKeys ...string) *sshd {
	t.Helper()
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatalf("sshd privilege separation dir /run/sshd: %v", err)
	}
	hostKey := filepath.Join(dir, "sshd_host_ed25519_key")
	genKey(t, tl, hostKey)
	authFile := filepath.Join(dir, "sshd_authorized_keys")
	writeFile(t, authFile, strings.Join(authorizedKeys, ""), 0o600)

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port may be taken between probe and bind
		port := freePort(t)
		config := filepath.Join(dir, fmt.Sprintf("sshd_config.%d", attempt))
		writeFile(t, config, throwaway.SSHDConfig(port, hostKey, authFile, "LogLevel VERBOSE", "AcceptEnv LANG LC_*", "Subsystem sftp internal-sftp"), 0o600)
		p := startProc(t, fmt.Sprintf("sshd:%d", port), nil, tl.sshd, "-D", "-e", "-f", config)
		m, err := p.waitLine(sshdListening, startTimeout)
		if err != nil {
			lastErr = fmt.Errorf("%v\n%s", err, p.out)
			p.kill()
			continue
		}
		if m[1] != fmt.Sprint(port) {
			t.Fatalf("sshd listens on port %s, configured %d", m[1], port)
		}
		return &sshd{
			port:       port,
			addr:       fmt.Sprintf("127.0.0.1:%d", port),
			hostKeyPub: strings.TrimSpace(readFile(t, hostKey+".pub")),
			proc:       p,
		}
	}
	t.Fatalf("throw-away sshd did not start: %v", lastErr)
	return nil
}
