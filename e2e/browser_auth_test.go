package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"testing"

	"golang.org/x/crypto/ssh"
)

const (
	hostPassword = "host-Password-1"
	hostCode     = "424242"
)

// TestBrowserHostAuth logs in to a host from the page with a password, and with
// keyboard-interactive questions shown in the page. The host is a small Go SSH server on a
// loopback port that the gateway may dial for the browser user (the throw-away sshd allows only
// keys): user pwuser logs in with a password, user kbduser answers a one-time code question.
func TestBrowserHostAuth(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	host, hostFP := startAuthHost(t)
	w.gw.mustCLI(t, browserPassword+"\n", "user", "add", "bob", "--password-stdin", "--permit-open", host)
	b := startBrowser(t, "http://"+w.gw.httpAddr)
	requirePage(t, w.gw)
	b.open("/")
	b.fill("login-user", "bob")
	b.fill("login-password", browserPassword)
	b.click("login-submit")
	b.waitJS("the page to log in as bob", `document.body.dataset.user === "bob"`)

	t.Run("password", func(t *testing.T) {
		b.t = t
		b.fill("console-target", host)
		b.fill("console-user", "pwuser")
		b.fill("console-password", hostPassword)
		b.click("console-connect")
		b.waitVisible("hostkey-new-panel")
		if got := b.textOf("hostkey-fingerprint"); got != hostFP {
			t.Fatalf("#hostkey-fingerprint = %q, want %s", got, hostFP)
		}
		b.click("hostkey-accept")
		b.waitScreenLine("welcome pwuser via password")
		b.waitTextContains("console-status", "Session ended (exit 0)")
	})
	t.Run("keyboard-interactive", func(t *testing.T) {
		b.t = t
		b.fill("console-user", "kbduser")
		b.fill("console-password", "")
		b.click("console-connect") // the host key is known now: no question
		b.waitVisible("kbd-panel")
		b.waitTextContains("kbd-questions", "One-time code:")
		b.fill("kbd-answer-0", hostCode)
		b.click("kbd-submit")
		b.waitScreenLine("welcome kbduser via keyboard-interactive")
	})
}

// startAuthHost runs an SSH server on a loopback port for the test's lifetime and returns its
// address and host key fingerprint. pwuser logs in with hostPassword; kbduser answers the
// keyboard-interactive question "One-time code:" with hostCode. A shell greets the user with the
// method used and exits 0.
func startAuthHost(t *testing.T) (string, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	ok := func(method string) *ssh.Permissions {
		return &ssh.Permissions{Extensions: map[string]string{"method": method}}
	}
	cfg := &ssh.ServerConfig{
		PasswordCallback: func(md ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if md.User() == "pwuser" && string(pw) == hostPassword {
				return ok("password"), nil
			}
			return nil, errors.New("wrong password")
		},
		KeyboardInteractiveCallback: func(md ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			if md.User() != "kbduser" {
				return nil, errors.New("no questions for this user")
			}
			answers, err := client("", "Tubegate test host", []string{"One-time code: "}, []bool{true})
			if err != nil || len(answers) != 1 || answers[0] != hostCode {
				return nil, errors.New("wrong code")
			}
			return ok("keyboard-interactive"), nil
		},
	}
	cfg.AddHostKey(signer)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveAuthHost(c, cfg)
		}
	}()
	return l.Addr().String(), ssh.FingerprintSHA256(signer.PublicKey())
}

func serveAuthHost(c net.Conn, cfg *ssh.ServerConfig) {
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			for req := range creqs {
				switch req.Type {
				case "pty-req", "window-change", "env":
					req.Reply(true, nil)
				case "shell":
					req.Reply(true, nil)
					fmt.Fprintf(ch, "welcome %s via %s\r\n", sc.User(), sc.Permissions.Extensions["method"])
					ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
					ch.Close()
				default:
					req.Reply(false, nil)
				}
			}
		}()
	}
}
