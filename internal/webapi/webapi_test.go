package webapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// serve runs req through guard in front of a handler that answers 204,
// with a session of "alice" (CSRF token "tok") when withSession is set.
func serve(guard func(http.Handler) http.Handler, req *http.Request, withSession bool) *httptest.ResponseRecorder {
	if withSession {
		req = Provide(req, func() (*Session, bool) { return &Session{User: "alice", CSRF: "tok"}, true })
	}
	rec := httptest.NewRecorder()
	guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })).ServeHTTP(rec, req)
	return rec
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) ErrorBody {
	t.Helper()
	var e ErrorBody
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error answer of type %q: %s", ct, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
		t.Fatalf("error answer %q: %v", rec.Body, err)
	}
	return e
}

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		method string
		hdr    map[string]string
		want   int
	}{
		{"POST", nil, 204}, // not a browser
		{"POST", map[string]string{"Origin": "http://gw.test"}, 204},
		{"POST", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://gw.test"}, 204},
		{"POST", map[string]string{"Sec-Fetch-Site": "none"}, 204},
		{"POST", map[string]string{"Origin": "http://evil.test"}, 403},
		{"POST", map[string]string{"Origin": "https://gw.test"}, 403}, // the host, another scheme
		{"POST", map[string]string{"Origin": "http://gw.test:8080"}, 403},
		{"DELETE", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"POST", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://gw.test"}, 403},
		{"POST", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://gw.test"}, 403},
		{"GET", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.test"}, 204},
	} {
		req := httptest.NewRequest(c.method, "http://gw.test/api/x", nil)
		for k, v := range c.hdr {
			req.Header.Set(k, v)
		}
		rec := serve(SameOrigin, req, false)
		if rec.Code != c.want {
			t.Errorf("%s with %v: %d, want %d", c.method, c.hdr, rec.Code, c.want)
		}
		if rec.Code == 403 {
			if e := errorOf(t, rec); !strings.Contains(e.Error, "foreign origin") {
				t.Errorf("%s with %v: %+v", c.method, c.hdr, e)
			}
		}
	}
}

func TestRequireCSRF(t *testing.T) {
	for _, c := range []struct {
		name, token, origin string
		session             bool
		want                int
	}{
		{"right token", "tok", "", true, 204},
		{"right token, own origin", "tok", "http://gw.test", true, 204},
		{"no token", "", "", true, 403},
		{"wrong token", "nope", "", true, 403},
		{"no session", "tok", "", false, 403},
		{"foreign origin", "tok", "http://evil.test", true, 403},
	} {
		req := httptest.NewRequest("POST", "http://gw.test/api/x", nil)
		if c.token != "" {
			req.Header.Set(CSRFHeader, c.token)
		}
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		if rec := serve(RequireCSRF, req, c.session); rec.Code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, rec.Code, rec.Body, c.want)
		}
	}
}

func TestRequireUser(t *testing.T) {
	if rec := serve(RequireUser, httptest.NewRequest("GET", "/api/x", nil), false); rec.Code != 401 {
		t.Errorf("without a session: %d, want 401", rec.Code)
	}
	if rec := serve(RequireUser, httptest.NewRequest("GET", "/api/x", nil), true); rec.Code != 204 {
		t.Errorf("with a session: %d, want 204", rec.Code)
	}
}

func TestSessionLookedUpOnce(t *testing.T) {
	n := 0
	req := Provide(httptest.NewRequest("GET", "/", nil), func() (*Session, bool) { n++; return &Session{User: "bob"}, true })
	for range 3 {
		if u, ok := UserOf(req); !ok || u != "bob" {
			t.Fatalf("UserOf = %q, %v", u, ok)
		}
	}
	if n != 1 {
		t.Errorf("the session was looked up %d times, want 1", n)
	}
	if _, ok := SessionOf(httptest.NewRequest("GET", "/", nil)); ok {
		t.Error("a session without a login middleware")
	}
}

func TestDecode(t *testing.T) {
	type body struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	for _, c := range []struct {
		name, ctype, body string
		want              int
		field             string
	}{
		{"fine", "application/json; charset=utf-8", `{"name":"x","n":1}`, 200, ""},
		{"no content type", "", `{"name":"x"}`, 415, ""},
		{"form", "application/x-www-form-urlencoded", `name=x`, 415, ""},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", 100) + `"}`, 413, ""},
		{"unknown field", "application/json", `{"name":"x","admin":true}`, 400, "admin"},
		{"wrong type", "application/json", `{"n":"one"}`, 400, "n"},
		{"syntax", "application/json", `{"name":}`, 400, ""},
		{"cut", "application/json", `{"name":`, 400, ""},
		{"empty", "application/json", ``, 400, ""},
	} {
		req := httptest.NewRequest("POST", "/api/x", strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		rec := httptest.NewRecorder()
		var v body
		ok := Decode(rec, req, 64, &v)
		if c.want == 200 {
			if !ok || v.Name != "x" || v.N != 1 {
				t.Errorf("%s: %v %+v %s", c.name, ok, v, rec.Body)
			}
			continue
		}
		if ok || rec.Code != c.want {
			t.Errorf("%s: %v %d %s, want %d", c.name, ok, rec.Code, rec.Body, c.want)
			continue
		}
		if e := errorOf(t, rec); e.Field != c.field {
			t.Errorf("%s: field %q, want %q (%s)", c.name, e.Field, c.field, rec.Body)
		}
	}
}

func TestErrorShape(t *testing.T) {
	rec := httptest.NewRecorder()
	FieldError(rec, http.StatusBadRequest, "expires", "too long")
	if got := strings.TrimSpace(rec.Body.String()); got != `{"error":"too long","field":"expires"}` || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("FieldError: %s %v", got, rec.Header())
	}
	rec = httptest.NewRecorder()
	Error(rec, http.StatusForbidden, "no")
	if got := strings.TrimSpace(rec.Body.String()); got != `{"error":"no"}` {
		t.Errorf("Error: %s", got)
	}
}
