package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestTunnelRefusesBadInvocations(t *testing.T) {
	kh := filepath.Join(t.TempDir(), "kh")
	cases := map[string][]string{
		"nothing to do":             {"ws://gw/ssh"},
		"scheme must be":            {"-L", "1:h:2", "http://gw/ssh"},
		"give the gateway's URL":    {"-L", "1:h:2"},
		"use it alone":              {"-W", "h:22", "-L", "1:h:2", "ws://gw/ssh"},
		"TUBEGATE_PASSWORD":         {"-W", "h:22", "--password-stdin", "ws://gw/ssh"},
		"want [bind:]port:host":     {"-L", "8080", "ws://gw/ssh"},
		"no wildcards":              {"-D", "*", "ws://gw/ssh"},
		"the destination needs":     {"-R", "1:h:0", "ws://gw/ssh"},
		"no credentials":            {"-L", "127.0.0.1:0:h:2", "ssh://127.0.0.1:1"},
		`unknown setting "remotes"`: {"--config", writeTemp(t, "remotes = [\"1:h:2\"]\n")},
	}
	for want, args := range cases {
		t.Setenv("SSH_AUTH_SOCK", "")
		out, err := run(t, "", append([]string{"tunnel", "--user", "alice", "--known-hosts", kh}, args...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("tunnel %v: err %v, want one saying %q\n%s", args, err, want, out)
		}
	}
}

func writeTemp(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTunnelConfigMerge: forwards from --config and the command line add
// up; other flags given on the command line win over the file.
func TestTunnelConfigMerge(t *testing.T) {
	cfgFile := writeTemp(t, `url = "wss://gw.example.com/ssh"
user = "fromfile"
key = "/k"
keepalive = "5s"
local = ["1:a:1"]
remote = ["web.alice:80:localhost:3000"]
dynamic = ["1080"]
`)
	o := &tunnelOptions{}
	cmd := newTunnelCmd(o)
	if err := cmd.ParseFlags([]string{"--config", cfgFile, "--user", "fromflag", "-L", "2:b:2"}); err != nil {
		t.Fatal(err)
	}
	c, err := o.resolve(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if c.user != "fromflag" || c.key != "/k" || c.keepalive.String() != "5s" || c.hostPort != "gw.example.com:443" {
		t.Errorf("merged settings: user %q key %q keepalive %v host %q", c.user, c.key, c.keepalive, c.hostPort)
	}
	if len(c.locals) != 2 || len(c.remotes) != 1 || len(c.dynamics) != 1 || c.remotes[0].BindHost != "web.alice" {
		t.Errorf("merged forwards: -L %v -R %v -D %v", c.locals, c.remotes, c.dynamics)
	}
}

// TestHostPin: the first key is pinned, the same key passes, and another
// key of the same type is refused with both fingerprints and the line.
func TestHostPin(t *testing.T) {
	p := &hostPin{path: filepath.Join(t.TempDir(), "sub", "known_hosts"), hostPort: "gw.example.com:443", log: slog.New(slog.DiscardHandler)}
	k1, k2 := newHostKey(t), newHostKey(t)
	check, algos, err := p.prepare()
	if err != nil || algos != nil {
		t.Fatalf("prepare on an empty file: %v %v", algos, err)
	}
	if err := check("gw", nil, k1); err != nil {
		t.Fatalf("first use: %v", err)
	}
	check, algos, err = p.prepare()
	if err != nil || len(algos) != 1 || algos[0] != ssh.KeyAlgoED25519 {
		t.Fatalf("prepare with a pinned ed25519 key: %v %v", algos, err)
	}
	if err := check("gw", nil, k1); err != nil {
		t.Errorf("the pinned key: %v", err)
	}
	err = check("gw", nil, k2)
	var perm *permanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), ssh.FingerprintSHA256(k1)) ||
		!strings.Contains(err.Error(), ssh.FingerprintSHA256(k2)) || !strings.Contains(err.Error(), "remove line 1 of "+p.path) {
		t.Errorf("a changed key: %v", err)
	}
	data, _ := os.ReadFile(p.path)
	if strings.Count(string(data), "\n") != 1 || !strings.HasPrefix(string(data), "gw.example.com:443 ") && !strings.HasPrefix(string(data), "[gw.example.com]:443 ") {
		t.Errorf("known_hosts:\n%s", data)
	}
}

func newHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
