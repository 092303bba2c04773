package e2e

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// rssMiB reads a process's resident set from /proc.
func rssMiB(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb float64
			fmt.Sscan(strings.TrimSpace(rest), &kb)
			return kb / 1024
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// TestRedteamUnreadChannelData: alice opens session channels and writes
// 2 MiB into each, which the gateway never reads. Each channel used to
// grant x/crypto's 2 MiB window, so the gateway held 2 MiB a channel (200
// channels: 23 → 479 MiB in 2 s). A user's channels now share a window
// budget (--max-window-per-user, 4 MiB here): each starts with 64 KiB of it,
// channels past it are refused, and what the gateway holds stays within
// it, whichever of the user's tubes asks.
func TestRedteamUnreadChannelData(t *testing.T) {
	const budgetMiB, initialKiB, tries = 4, 64, 100
	w := newWorld(t, gatewayOpts{sshListen: true, args: []string{"--max-window-per-user", fmt.Sprint(budgetMiB)}})
	w.addUser(t, "alice")
	signer := userSigner(t, w, "alice")
	dial := func() *ssh.Client {
		c, err := ssh.Dial("tcp", w.gw.sshAddr, &ssh.ClientConfig{
			User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 20 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	refusedForWindow := func(err error) bool {
		var oe *ssh.OpenChannelError
		return errors.As(err, &oe) && oe.Reason == ssh.ResourceShortage && strings.Contains(oe.Message, "window")
	}
	pid := w.gw.proc.cmd.Process.Pid
	c := dial()
	before := rssMiB(t, pid)

	var open []ssh.Channel
	refused := 0
	for range tries {
		ch, reqs, err := c.OpenChannel("session", nil)
		if err != nil {
			if !refusedForWindow(err) {
				t.Fatalf("a channel refused for another reason: %v", err)
			}
			refused++
			continue
		}
		go ssh.DiscardRequests(reqs)
		open = append(open, ch)
		go ch.Write(make([]byte, 2<<20)) // blocks once the window is used
	}
	if want := budgetMiB << 10 / initialKiB; len(open) != want || refused != tries-want {
		t.Fatalf("%d channels opened, %d refused; want %d and %d", len(open), refused, want, tries-want)
	}
	// Another tube of alice's shares the budget.
	if _, _, err := dial().OpenChannel("session", nil); !refusedForWindow(err) {
		t.Errorf("alice's second tube opened a channel past her budget: %v", err)
	}
	time.Sleep(2 * time.Second) // the writers send what their windows allow
	grown := rssMiB(t, pid) - before
	if grown > 48 {
		t.Errorf("the gateway grew by %.0f MiB holding alice's unread data; her budget is %d MiB", grown, budgetMiB)
	}
	// Closed channels give their windows back.
	for _, ch := range open[:8] {
		ch.Close()
	}
	var err error
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		var ch ssh.Channel
		if ch, _, err = c.OpenChannel("session", nil); err == nil {
			ch.Close()
			break
		}
	}
	if err != nil {
		t.Errorf("no channel opens once 8 were closed: %v", err)
	}
	redteam(t, fmt.Sprintf("%d session channels of one user, 2 MiB written to each and never read, --max-window-per-user %d", tries, budgetMiB),
		fmt.Sprintf("%d open (64 KiB each), the rest refused; the gateway holds at most the budget", budgetMiB<<10/initialKiB),
		fmt.Sprintf("%d open, %d refused, the gateway grew %.1f MiB", len(open), refused, grown))
}
