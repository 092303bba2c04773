package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// shareBackend is the local HTTP service a test shares: it is what `ssh -R` publishes and what a
// share link must reach. Its name is in every answer, so a test can tell two backends apart.
type shareBackend struct {
	name string
	port int
	srv  *http.Server
}

// seenRequest is what /headers reports about the request the backend received.
type seenRequest struct {
	Backend string      `json:"backend"`
	Host    string      `json:"host"`
	Path    string      `json:"path"`
	Query   string      `json:"query"`
	Header  http.Header `json:"header"`
}

// startShareBackend serves, on a loopback port for the test's lifetime:
//
//	/          "hello from NAME"
//	/headers   JSON seenRequest
//	/upload    POST: sha256 (hex) of the body
//	/redirect  302 to /target?x=1;  /redirect-abs: 302 to http://HOST/target (the Host it was sent)
//	/cookie    sets tubegate_session=evil and app=1 (with a Domain)
//	/stream    an endless stream of "tick N\n" lines, flushed every 20 ms
//	/ws        WebSocket echo
func startShareBackend(t *testing.T, name string) *shareBackend {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", name)
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seenRequest{Backend: name, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header})
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target?x=1", http.StatusFound)
	})
	mux.HandleFunc("/redirect-abs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://"+r.Host+"/target")
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/cookie", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "tubegate_session", Value: "evil", Path: "/"})
		http.SetCookie(w, &http.Cookie{Name: "app", Value: "1", Path: "/", Domain: "127.0.0.1"})
		fmt.Fprint(w, "cookies set")
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fl := w.(http.Flusher)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "tick %d\n", i); err != nil {
				return
			}
			fl.Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, data, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, append([]byte(name+": "), data...)); err != nil {
				return
			}
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("share backend %s: %v", name, err)
	}
	b := &shareBackend{name: name, port: ln.Addr().(*net.TCPAddr).Port, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := b.srv.Shutdown(ctx); err != nil {
			b.srv.Close()
		}
	})
	return b
}

// shareLink is a link as `gateway link create` printed it.
type shareLink struct {
	url   string // the first line
	id    string
	token string // from a /s/TOKEN/ or TOKEN.DOMAIN URL
}

// parseCreated reads the output of `link create`: the URL alone on the first line, then
// "id ID  endpoint ...".
func parseCreated(t *testing.T, out string) shareLink {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "id ") {
		t.Fatalf("link create printed %q, want the URL on the first line and \"id ...\" on the second", out)
	}
	l := shareLink{url: strings.TrimSpace(lines[0]), id: strings.Fields(lines[1])[1]}
	if i := strings.Index(l.url, "/s/"); i >= 0 {
		l.token = strings.TrimSuffix(l.url[i+3:], "/")
	} else if rest, ok := strings.CutPrefix(l.url, "http://"); ok {
		l.token, _, _ = strings.Cut(rest, ".")
	}
	if len(l.token) < 26 { // 128 bits of base32
		t.Fatalf("link URL %q has no token of at least 128 bits", l.url)
	}
	return l
}

// createLink runs `gateway link create ARGS... --url http://GATEWAY` and parses its output.
func createLink(t *testing.T, g *gateway, args ...string) shareLink {
	t.Helper()
	res := g.mustCLI(t, "", append(append([]string{"link", "create"}, args...), "--url", "http://"+g.httpAddr)...)
	return parseCreated(t, res.stdout)
}

// pathURL is the link's /s/TOKEN/ URL on the gateway g, plus path (without its leading slash).
func (l shareLink) pathURL(g *gateway, path string) string {
	return "http://" + g.httpAddr + "/s/" + l.token + "/" + strings.TrimPrefix(path, "/")
}

// httpGet does a GET with a fresh client that does not follow redirects and returns the status
// and body.
func httpGet(t *testing.T, url string, mod ...func(*http.Request)) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	for _, m := range mod {
		m(req)
	}
	resp, err := noRedirectClient().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body), resp.Header
}

func noRedirectClient() *http.Client {
	return &http.Client{
		Timeout:       20 * time.Second,
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// waitStatus polls GET url until it answers want, returning the body and the time it took.
func waitStatus(t *testing.T, url string, want int, timeout time.Duration, mod ...func(*http.Request)) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	var status int
	var body string
	for time.Since(start) < timeout {
		status, body, _ = httpGet(t, url, mod...)
		if status == want {
			return body, time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("GET %s: still %d after %v, want %d; body:\n%s", url, status, timeout, want, body)
	return "", 0
}
