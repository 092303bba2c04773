// Package webui serves the embedded page: index.html (never cached, so a
// new build is picked up at once) and content-hashed assets (cached for a
// year, immutable), each sent precompressed (brotli or gzip) when the
// browser accepts it, under a Content-Security-Policy.
package webui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// CSP is the page's Content-Security-Policy: everything from the gateway
// itself; Wasm compilation allowed; inline styles allowed because xterm.js
// sizes its rows with them; no inline scripts, frames, plugins or forms
// elsewhere.
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// hashed matches an asset name with a content hash: name.0123456789ab.ext.
var hashed = regexp.MustCompile(`\.[0-9a-f]{12}\.[a-z0-9]+$`)

// UI serves a built page. Create it with New.
type UI struct {
	files fs.FS
	built bool
}

// New serves files, the built page (web.Dist()).
func New(files fs.FS) *UI {
	_, err := fs.Stat(files, "index.html")
	return &UI{files: files, built: err == nil}
}

// Built reports whether the page was built into the binary (make web).
func (u *UI) Built() bool { return u.built }

// Mount adds the page's routes: / and /login/first (index.html), /admin
// (admin.html; its API is for administrators only) and /assets/*.
func (u *UI) Mount(r chi.Router) {
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r.Method(m, "/", http.HandlerFunc(u.index))
		r.Method(m, "/login/first", http.HandlerFunc(u.index))
		r.Method(m, "/admin", u.page("admin.html"))
		r.Method(m, "/assets/*", http.HandlerFunc(u.asset))
	}
}

func (u *UI) index(w http.ResponseWriter, r *http.Request) { u.page("index.html")(w, r) }

// page serves one of the built HTML pages, revalidated on every load.
func (u *UI) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u.servePage(w, r, name)
	}
}

func (u *UI) servePage(w http.ResponseWriter, r *http.Request, name string) {
	if !u.built {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("tubegate: this gateway was built without its page; build it with `make build` (which runs `make web`)\n"))
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	u.serve(w, r, name)
}

func (u *UI) asset(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "*")
	if strings.Contains(name, "/") || !hashed.MatchString(name) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	u.serve(w, r, "assets/"+name)
}

// serve sends name, or its .br or .gz sibling when the client accepts it.
func (u *UI) serve(w http.ResponseWriter, r *http.Request, name string) {
	h := w.Header()
	ctype := mime.TypeByExtension(path.Ext(name))
	if ext, ok := extraTypes[path.Ext(name)]; ok {
		ctype = ext
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Frame-Options", "DENY")
	h.Add("Vary", "Accept-Encoding")
	for _, enc := range preferred(r.Header.Get("Accept-Encoding")) {
		data, err := fs.ReadFile(u.files, name+suffix[enc])
		if err != nil {
			continue
		}
		if enc != "identity" {
			h.Set("Content-Encoding", enc)
		}
		if strings.HasSuffix(name, ".html") { // revalidated on every load: give it an ETag
			sum := sha256.Sum256(data)
			h.Set("Etag", `"`+enc+"-"+hex.EncodeToString(sum[:8])+`"`)
		}
		// A range of a compressed body is not what the client asked
		// for: always send the whole file.
		r = r.Clone(r.Context())
		r.Header.Del("Range")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		return
	}
	http.NotFound(w, r)
}

// extraTypes are the content types of assets the system's MIME table may
// not know (the terminal's web font).
var extraTypes = map[string]string{".woff2": "font/woff2"}

var suffix = map[string]string{"br": ".br", "gzip": ".gz", "identity": ""}

// preferred lists the encodings to try, best first, per Accept-Encoding.
func preferred(accept string) []string {
	q := map[string]float64{}
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(strings.TrimSpace(part), ";")
		enc := strings.ToLower(strings.TrimSpace(fields[0]))
		weight := 1.0
		for _, p := range fields[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					weight = f
				}
			}
		}
		q[enc] = weight
	}
	star, hasStar := q["*"]
	ok := func(enc string) bool {
		if w, listed := q[enc]; listed {
			return w > 0
		}
		return hasStar && star > 0
	}
	var out []string
	for _, enc := range []string{"br", "gzip"} {
		if ok(enc) {
			out = append(out, enc)
		}
	}
	return append(out, "identity")
}
