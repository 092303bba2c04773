package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Password guessing in parallel (issue "Safe against its own users" §4): one address fires 100
// wrong guesses at once at each of the gateway's three password checks. Each guess costs a bcrypt
// only while the address has wrong passwords left (10 a minute), so at most 10 are checked; the
// number checked is read from the gateway's own counter on the loopback /metrics.

const (
	guesses        = 100
	passwordBudget = 10 // webauth.DefaultMaxFailures: wrong passwords per source per minute
)

// TestRedteamPasswordRaceWeb: 100 parallel wrong POST /api/login.
func TestRedteamPasswordRaceWeb(t *testing.T) {
	g := startGateway(t, shortTempDir(t), gatewayOpts{})
	g.mustCLI(t, "alice-web-password\n", "user", "add", "alice", "--password-stdin")
	client := parallelClient()
	statuses := fireGuesses(t, func(i int) (string, error) {
		body := fmt.Sprintf(`{"user":"alice","password":"wrong-guess-%d"}`, i)
		req, err := http.NewRequest(http.MethodPost, "http://"+g.httpAddr+"/api/login", strings.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		return doStatus(client, req)
	})
	requirePasswordBudget(t, g, "web", "POST /api/login", statuses)
}

// TestRedteamPasswordRaceShare: 100 parallel wrong basic-auth passwords on one share link.
func TestRedteamPasswordRaceShare(t *testing.T) {
	g := startGateway(t, shortTempDir(t), gatewayOpts{})
	g.mustCLI(t, "alice-web-password\n", "user", "add", "alice", "--password-stdin")
	link := createLink(t, g, "myapp:80", "--user", "alice", "--basic-auth", "viewer:open-sesame")
	client := parallelClient()
	statuses := fireGuesses(t, func(i int) (string, error) {
		req, err := http.NewRequest(http.MethodGet, link.pathURL(g, ""), nil)
		if err != nil {
			return "", err
		}
		req.SetBasicAuth("viewer", fmt.Sprintf("wrong-guess-%d", i))
		return doStatus(client, req)
	})
	requirePasswordBudget(t, g, "share", "share link basic auth", statuses)
}

// TestRedteamPasswordRaceSSH: 100 parallel SSH connections over --ssh-listen, each offering one
// wrong password. The per-source handshake cap is raised past 100 so that every guess reaches
// the password check: the budget must hold by itself.
func TestRedteamPasswordRaceSSH(t *testing.T) {
	g := startGateway(t, shortTempDir(t), gatewayOpts{sshListen: true,
		args: []string{"--max-handshakes-per-source", "200"}})
	g.mustCLI(t, "alice-ssh-password\n", "user", "add", "alice", "--password-stdin")
	statuses := fireGuesses(t, func(i int) (string, error) {
		cfg := &ssh.ClientConfig{
			User:            "alice",
			Auth:            []ssh.AuthMethod{ssh.Password(fmt.Sprintf("wrong-guess-%d", i))},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), // the attacker does not care whose server it is
			Timeout:         cmdTimeout,
		}
		c, err := ssh.Dial("tcp", g.sshAddr, cfg)
		if err == nil {
			c.Close()
			return "logged in", nil
		}
		switch {
		case strings.Contains(err.Error(), "unable to authenticate"):
			return "refused", nil
		case strings.Contains(err.Error(), "EOF"), strings.Contains(err.Error(), "reset by peer"):
			return "closed", nil
		}
		return "", err
	})
	requirePasswordBudget(t, g, "ssh", "SSH password auth", statuses)
}

// fireGuesses runs guess(0..guesses-1) all at once and returns how many ended with each outcome.
func fireGuesses(t *testing.T, guess func(i int) (string, error)) map[string]int {
	t.Helper()
	var (
		mu       sync.Mutex
		outcomes = map[string]int{}
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for i := 0; i < guesses; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out, err := guess(i)
			if err != nil {
				out = "error: " + err.Error()
			}
			mu.Lock()
			outcomes[out]++
			mu.Unlock()
		}()
	}
	begin := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d parallel guesses answered in %v: %v", guesses, time.Since(begin).Round(time.Millisecond), outcomes)
	return outcomes
}

// requirePasswordBudget reads the gateway's password check counters for path and requires at
// most the budget checked, every other guess refused without a check, none let in.
func requirePasswordBudget(t *testing.T, g *gateway, path, what string, outcomes map[string]int) {
	t.Helper()
	checked := metricValue(t, g, fmt.Sprintf(`tubegate_password_checks_total{path=%q}`, path))
	throttled := metricValue(t, g, fmt.Sprintf(`tubegate_password_throttled_total{path=%q}`, path))
	redteam(t, fmt.Sprintf("%d parallel wrong passwords, one address: %s", guesses, what),
		fmt.Sprintf("at most %d checked by bcrypt", passwordBudget),
		fmt.Sprintf("%d of %d checked, %d refused unchecked", checked, guesses, throttled))
	for out, n := range outcomes {
		if strings.HasPrefix(out, "error") || out == "200" || out == "logged in" {
			t.Errorf("%d guesses ended %q", n, out)
		}
	}
	if checked > passwordBudget {
		t.Errorf("%s: %d of %d parallel wrong passwords were checked by bcrypt, want at most %d", what, checked, guesses, passwordBudget)
	}
	if checked == 0 {
		t.Errorf("%s: no password check counted: is tubegate_password_checks_total{path=%q} on /metrics?", what, path)
	}
}

// parallelClient is an HTTP client that opens a connection per request in flight.
func parallelClient() *http.Client {
	return &http.Client{Timeout: cmdTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
}

// doStatus sends req and returns the answer's status code.
func doStatus(c *http.Client, req *http.Request) (string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode), nil
}

// metricValue reads one sample (NAME{LABELS} exactly as Prometheus prints it) from the gateway's
// /metrics; a sample not printed yet is 0.
func metricValue(t *testing.T, g *gateway, sample string) int {
	t.Helper()
	resp, err := g.httpClient(t).Get(g.scheme() + "://" + g.httpAddr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("/metrics: %s %q: %v", sample, v, err)
			}
			return int(f)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	return 0
}
