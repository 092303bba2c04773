package webui

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/go-chi/chi/v5"
)

func TestServe(t *testing.T) {
	files := fstest.MapFS{
		"index.html":                       {Data: []byte("<html>")},
		"index.html.gz":                    {Data: []byte("GZ-index")},
		"assets/app.0123456789ab.js":       {Data: []byte("js")},
		"assets/app.0123456789ab.js.gz":    {Data: []byte("GZ-js")},
		"assets/app.0123456789ab.js.br":    {Data: []byte("BR-js")},
		"assets/main.0123456789ab.wasm":    {Data: []byte("wasm")},
		"assets/main.0123456789ab.wasm.gz": {Data: []byte("GZ-wasm")},
	}
	r := chi.NewRouter()
	New(files).Mount(r)
	get := func(path, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	cases := []struct {
		path, accept, body, enc, cache, ctype string
	}{
		{"/", "gzip, br", "GZ-index", "gzip", "no-cache", "text/html; charset=utf-8"},
		{"/login/first", "", "<html>", "", "no-cache", "text/html; charset=utf-8"},
		{"/assets/app.0123456789ab.js", "gzip, deflate, br", "BR-js", "br", "public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		{"/assets/app.0123456789ab.js", "br;q=0, gzip", "GZ-js", "gzip", "public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		{"/assets/app.0123456789ab.js", "identity", "js", "", "public, max-age=31536000, immutable", "text/javascript; charset=utf-8"},
		{"/assets/main.0123456789ab.wasm", "*", "GZ-wasm", "gzip", "public, max-age=31536000, immutable", "application/wasm"},
	}
	for _, c := range cases {
		rec := get(c.path, c.accept)
		h := rec.Result().Header
		if rec.Code != 200 || rec.Body.String() != c.body || h.Get("Content-Encoding") != c.enc ||
			h.Get("Cache-Control") != c.cache || h.Get("Content-Type") != c.ctype || h.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s (Accept-Encoding %q): %d %q %v", c.path, c.accept, rec.Code, rec.Body.String(), h)
		}
	}
	for _, p := range []string{"/assets/app.js", "/assets/nope.0123456789ab.js", "/assets/../index.html"} {
		if rec := get(p, "gzip"); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
}

func TestUnbuilt(t *testing.T) {
	r := chi.NewRouter()
	New(fstest.MapFS{}).Mount(r)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("unbuilt page: %d, want 503", rec.Code)
	}
}
