package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// homeEntry is one row of GET /api/home.
type homeEntry struct {
	Target, Kind, State, Publisher, From string
	Since                                time.Time
	Mine                                 bool
}

type homeList struct {
	User      string
	PublicURL string `json:"public_url"`
	Entries   []homeEntry
}

func getHome(t *testing.T, c *webClient) (homeList, string) {
	t.Helper()
	status, body := c.call(t, "GET", "/api/home", nil)
	var l homeList
	if status != http.StatusOK || json.Unmarshal([]byte(body), &l) != nil {
		t.Fatalf("GET /api/home: %d %s", status, body)
	}
	return l, body
}

// firstHomeEvent reads the first event of GET /api/home/events.
func firstHomeEvent(t *testing.T, c *webClient) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+"/api/home/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("GET /api/home/events: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET /api/home/events: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			return data
		}
	}
	t.Fatalf("GET /api/home/events: no event (%v)", sc.Err())
	return ""
}

// TestRedteamHomeListing: the home list shows a user every endpoint they may
// reach, and nothing else. alice publishes names and a port, and one name
// goes offline; mallory (no grant, but --permit-open '*:22', which names
// real hosts only) and bob (granted web.alice:80) read /api/home and its
// event stream. Neither may learn of alice's other names, her port, her
// offline name or where her tubes come from.
func TestRedteamHomeListing(t *testing.T) {
	w := newWorld(t, gatewayOpts{})
	const pw = "home-Redteam-4471"
	w.addUser(t, "alice")
	w.gw.mustCLI(t, pw+"\n", "user", "set", "alice", "--password-stdin")
	w.gw.mustCLI(t, pw+"\n", "user", "add", "bob", "--password-stdin", "--permit-open", "web.alice@alice:80")
	w.gw.mustCLI(t, pw+"\n", "user", "add", "mallory", "--password-stdin", "--permit-open", "*:22")
	port := freePort(t)
	secrets := []string{"secret.alice", "old.alice", fmt.Sprint(port)}
	w.remoteForward(t, fmt.Sprintf("secret.alice:22:localhost:%d", w.target.port), "alice.ws")
	w.remoteForward(t, fmt.Sprintf("web.alice:80:localhost:%d", w.target.port), "alice.ws")
	w.remoteForward(t, fmt.Sprintf("%d:localhost:%d", port, w.target.port), "alice.ws")
	old := w.remoteForward(t, fmt.Sprintf("old.alice:22:localhost:%d", w.target.port), "alice.wsraw") // raw: killed, its name must go offline at once (a resumable tube waits for its client)
	old.kill()

	alice := webLogin(t, w.gw, "alice", pw)
	deadline := time.Now().Add(waitTimeout)
	var mine homeList
	for {
		mine, _ = getHome(t, alice)
		if len(mine.Entries) == 4 && mine.Entries[3].State == "offline" || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var got []string
	for _, e := range mine.Entries {
		got = append(got, e.Target+"="+e.State)
		if e.State == "online" && (!e.Mine || e.From == "") {
			t.Errorf("alice's own %s: mine %v, from %q; want hers, with where from", e.Target, e.Mine, e.From)
		}
		if e.State == "offline" && e.Since.IsZero() {
			t.Errorf("alice's %s is offline with no 'since'", e.Target)
		}
	}
	want := fmt.Sprintf("localhost:%d=online secret.alice:22=online web.alice:80=online old.alice:22=offline", port)
	if strings.Join(got, " ") != want {
		t.Fatalf("alice's home: %s, want %s", strings.Join(got, " "), want)
	}

	leaks := 0
	seen := func(who, body string) {
		for _, s := range secrets {
			if strings.Contains(body, s) {
				leaks++
				t.Errorf("%s sees %s: %s", who, s, body)
			}
		}
		if strings.Contains(body, "127.0.0.1:") && strings.Contains(body, `"from"`) {
			leaks++
			t.Errorf("%s sees where alice's tubes come from: %s", who, body)
		}
	}
	mallory := webLogin(t, w.gw, "mallory", pw)
	ml, mbody := getHome(t, mallory)
	seen("mallory", mbody)
	seen("mallory's event stream", firstHomeEvent(t, mallory))
	if len(ml.Entries) != 0 || strings.Contains(mbody, "alice") {
		leaks++
		t.Errorf("mallory, who may reach nothing published, sees: %s", mbody)
	}
	bob := webLogin(t, w.gw, "bob", pw)
	bl, bbody := getHome(t, bob)
	seen("bob", bbody)
	seen("bob's event stream", firstHomeEvent(t, bob))
	if len(bl.Entries) != 1 || bl.Entries[0].Target != "web.alice:80" || bl.Entries[0].State != "online" || bl.Entries[0].Publisher != "alice" {
		t.Errorf("bob's home: %s, want only web.alice:80, online, published by alice", bbody)
	}
	redteam(t, "mallory (no grant; --permit-open *:22) and bob (granted web.alice:80) read /api/home and /api/home/events while alice publishes 3 names (1 offline) and a port",
		"mallory sees nothing of alice's; bob sees web.alice:80 only, without the address it comes from",
		fmt.Sprintf("mallory %d entries, bob %d entries, %d leaks", len(ml.Entries), len(bl.Entries), leaks))
}
