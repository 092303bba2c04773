package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUsers edits users while the server runs: a user added with a key logs in, `user list` shows
// it, `user del` locks it out (polled for up to waitTimeout); a user added with --password-stdin
// logs in with that password through SSH_ASKPASS and not with a wrong one, and the password is not
// stored in clear in the data dir.
func TestUsers(t *testing.T) {
	w := newWorld(t, gatewayOpts{sshListen: true})
	w.addUser(t, "alice")
	w.addUser(t, "bob")

	t.Run("key login and list", func(t *testing.T) {
		if res := w.sshRun(t, "-T", "bob.tcp"); res.code != 0 {
			t.Fatalf("bob added while the server runs cannot log in: %s", res)
		}
		res := w.gw.mustCLI(t, "", "user", "list")
		if !hasLineStarting(res.stdout, "alice") || !hasLineStarting(res.stdout, "bob") {
			t.Fatalf("gateway user list: want lines for alice and bob: %s", res)
		}
	})

	t.Run("del locks the user out", func(t *testing.T) {
		w.gw.mustCLI(t, "", "user", "del", "bob")
		res := w.gw.mustCLI(t, "", "user", "list")
		if hasLineStarting(res.stdout, "bob") || !hasLineStarting(res.stdout, "alice") {
			t.Fatalf("gateway user list after del bob: %s", res)
		}
		deadline := time.Now().Add(waitTimeout)
		for {
			res := w.sshRun(t, "-T", "bob.tcp")
			if res.code != 0 && strings.Contains(res.stderr, "Permission denied") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("bob still logs in %v after `user del`: %s", waitTimeout, res)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if res := w.sshRun(t, "-T", "alice.tcp"); res.code != 0 {
			t.Fatalf("alice lost access when bob was deleted: %s", res)
		}
	})

	t.Run("password", func(t *testing.T) {
		const password = "e2e-Secret-8342"
		w.gw.mustCLI(t, password+"\n", "user", "add", "pat", "--password-stdin")
		login := func(pw string) result {
			askpass := filepath.Join(w.dir, "askpass")
			writeFile(t, askpass, "#!/bin/sh\necho '"+pw+"'\n", 0o700)
			env := []string{"SSH_ASKPASS=" + askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=none"}
			args := []string{"-F", w.config, "-T", "-o", "BatchMode=no", "-o", "PubkeyAuthentication=no",
				"-o", "PreferredAuthentications=password,keyboard-interactive", "-o", "NumberOfPasswordPrompts=1",
				"-l", "pat", "alice.tcp"} // alice.tcp only supplies the address and host key alias
			return runProgram(t, cmdTimeout, "", env, w.tl.ssh, args...)
		}
		if res := login(password); res.code != 0 || !strings.Contains(res.stdout+res.stderr, "pat") {
			t.Errorf("pat with the right password: want exit 0 and a status naming pat: %s", res)
		}
		if res := login("wrong-password"); res.code == 0 || !strings.Contains(res.stderr, "Permission denied") {
			t.Errorf("pat with a wrong password: want Permission denied: %s", res)
		}
		entries, err := os.ReadDir(w.gw.dataDir)
		if err != nil {
			t.Fatalf("read data dir: %v", err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && strings.Contains(readFile(t, filepath.Join(w.gw.dataDir, e.Name())), password) {
				t.Errorf("%s in the data dir holds the password in clear", e.Name())
			}
		}
	})
}
