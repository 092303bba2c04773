package e2e

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// proxyGatewayName is the gateway's name as clients behind the test squid
// use it. Only squid can resolve it (its hosts_file maps it to 127.0.0.1),
// so a client that reaches it went through the proxy; and Go's proxy rules
// never send a loopback address or localhost through a proxy.
const proxyGatewayName = "gw.tubegate.test"

// squidOpts configure a test squid.
type squidOpts struct {
	// allowPort is the only port CONNECT may reach (the gateway's).
	allowPort int
	// readTimeout is squid's read_timeout: it cuts a tunnel idle that long
	// (0: squid's default, 15 minutes).
	readTimeout time.Duration
}

// squid is Debian's squid run by the test on a loopback port, as a proxy
// that lets only CONNECT out, only to one port, only with Basic
// credentials (squidUser, squidPassword).
type squid struct {
	addr string // 127.0.0.1:PORT
	dir  string
	proc *proc
}

const (
	squidUser     = "proxyuser"
	squidPassword = "proxy-pw-4711"
)

var reSquidAccepting = regexp.MustCompile(`Accepting HTTP Socket connections at .*local=127\.0\.0\.1:(\d+)`)

// startSquid starts squid with its own config, password file, logs and pid
// file in a temp dir (no root needed; as root, squid runs as the proxy user
// that owns that dir), and waits until it accepts connections.
func startSquid(t *testing.T, opts squidOpts) *squid {
	t.Helper()
	bin := requireSquid(t)
	dir := shortTempDir(t)
	port := freePort(t)
	hash := runProgram(t, cmdTimeout, "", nil, "openssl", "passwd", "-apr1", squidPassword)
	if hash.code != 0 {
		t.Fatalf("openssl passwd (install openssl): %s", hash)
	}
	writeFile(t, filepath.Join(dir, "passwd"), squidUser+":"+strings.TrimSpace(hash.stdout)+"\n", 0o600)
	writeFile(t, filepath.Join(dir, "hosts"), "127.0.0.1 "+proxyGatewayName+"\n", 0o644)
	var conf strings.Builder
	fmt.Fprintf(&conf, `http_port 127.0.0.1:%d
visible_hostname tubegate-test-squid
pid_filename %[2]s/squid.pid
cache_log %[2]s/cache.log
access_log stdio:%[2]s/access.log
cache_store_log none
coredump_dir %[2]s
netdb_filename none
hosts_file %[2]s/hosts
cache deny all
cache_mem 8 MB
icp_port 0
htcp_port 0
snmp_port 0
pinger_enable off
digest_generation off
shutdown_lifetime 0 seconds
buffered_logs off
auth_param basic program %[3]s %[2]s/passwd
auth_param basic realm tubegate-test
auth_param basic children 2 startup=1 idle=1
acl gateway_port port %[4]d
acl authenticated proxy_auth REQUIRED
http_access deny !CONNECT
http_access deny !gateway_port
http_access allow authenticated
http_access deny all
`, port, dir, "/usr/lib/squid/basic_ncsa_auth", opts.allowPort)
	if opts.readTimeout > 0 {
		fmt.Fprintf(&conf, "read_timeout %d seconds\n", int(opts.readTimeout.Seconds()))
	}
	owner := -1
	if os.Getuid() == 0 {
		// squid will not run as root: it switches to this user, which
		// must own its files.
		u, err := user.Lookup("proxy")
		if err != nil {
			t.Fatalf("squid runs as user proxy when started by root: %v", err)
		}
		conf.WriteString("cache_effective_user proxy\n")
		owner, _ = strconv.Atoi(u.Uid)
	}
	writeFile(t, filepath.Join(dir, "squid.conf"), conf.String(), 0o644)
	if owner >= 0 {
		chownTree(t, dir, owner)
	}
	s := &squid{dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "access.log"))
			t.Logf("=== squid access.log\n%s=== end", log)
		}
	})
	s.proc = startProc(t, "squid", nil, bin, "-N", "-d", "1", "-f", filepath.Join(dir, "squid.conf"))
	s.addr = "127.0.0.1:" + s.proc.mustWaitLine(t, reSquidAccepting, startTimeout)[1]
	return s
}

// chownTree gives dir and everything in it to uid (its group unchanged).
func chownTree(t *testing.T, dir string, uid int) {
	t.Helper()
	err := filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, -1)
	})
	if err != nil {
		t.Fatalf("chown %s: %v", dir, err)
	}
}

// requireSquid finds squid and its basic_ncsa_auth helper, failing (not
// skipping) the test when they are missing.
func requireSquid(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("squid")
	if err != nil {
		bin = "/usr/sbin/squid"
	}
	for _, p := range []string{bin, "/usr/lib/squid/basic_ncsa_auth"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("squid is required (scripts/install-deps.sh installs Debian's squid): %v", err)
		}
	}
	return bin
}

// URL returns the proxy's URL for HTTP(S)_PROXY, with the test's
// credentials or without any.
func (s *squid) URL(withCredentials bool) string {
	u := url.URL{Scheme: "http", Host: s.addr}
	if withCredentials {
		u.User = url.UserPassword(squidUser, squidPassword)
	}
	return u.String()
}

// connects returns the access.log lines of CONNECTs squid let through.
func (s *squid) connects(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.dir, "access.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("squid access.log: %v", err)
	}
	var out []string
	for _, ln := range strings.Split(string(data), "\n") {
		if strings.Contains(ln, " CONNECT ") && strings.Contains(ln, "/200 ") {
			out = append(out, ln)
		}
	}
	return out
}
