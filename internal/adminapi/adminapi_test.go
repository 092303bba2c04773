package adminapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/sharelink"
	"github.com/tubegate/tubegate/internal/sshserver"
	"github.com/tubegate/tubegate/internal/users"
	"github.com/tubegate/tubegate/internal/webapi"
)

const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFlm6hyzR4lD1mUhYtUHvQBhN6oIlkkE3LTb9ZKBO+Xa k"

type fakeTubes struct{ closed []string }

func (f *fakeTubes) List() []sshserver.TubeInfo {
	return []sshserver.TubeInfo{{ID: "t1", User: "bob", Source: "127.0.0.1:5", Transport: "tcp", Forwards: []string{}}}
}

func (f *fakeTubes) Disconnect(id, by, source string) bool {
	if id != "t1" {
		return false
	}
	f.closed = append(f.closed, id+" by "+by)
	return true
}

type fixture struct {
	h     http.Handler
	store *users.Store
	tubes *fakeTubes
	links *sharelink.Store
}

func setup(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	store, err := users.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []users.User{{Name: "root", Admin: true, Keys: []string{key}}, {Name: "bob", Keys: []string{key}}} {
		if err := store.Add(u); err != nil {
			t.Fatal(err)
		}
	}
	ls, err := sharelink.Open(dir, sharelink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	log, _ := audit.Open("", audit.Options{})
	f := &fixture{store: store, tubes: &fakeTubes{}, links: ls}
	api := New(Config{Users: store, Tubes: f.tubes, Audit: log, Links: Links{
		Service: &sharelink.Service{Store: ls},
		Revoke: func(id, by, source string) (int, error) {
			return 0, ls.Revoke(id, "")
		},
	}})
	r := chi.NewRouter()
	api.Mount(r)
	f.h = r
	return f
}

// call sends a request as user ("" for none) with the session's CSRF
// token "tok" unless csrf is false.
func (f *fixture) call(method, path, body, user string, csrf bool, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://gw.test"+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if csrf {
		req.Header.Set(webapi.CSRFHeader, "tok")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if user != "" {
		req = webapi.Provide(req, func() (*webapi.Session, bool) { return &webapi.Session{User: user, CSRF: "tok"}, true })
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func path(pattern string) string {
	return strings.NewReplacer("{name}", "bob", "{id}", "t1").Replace(pattern)
}

// TestEveryRouteGuarded walks every admin route: no session is 401; a
// user who is not an admin, 403, even with a valid CSRF token; and for the
// state-changing ones an admin without the CSRF token or from a foreign
// origin, 403 too. None of them changes anything.
func TestEveryRouteGuarded(t *testing.T) {
	f := setup(t)
	for _, rt := range routes {
		p := path(rt.pattern)
		if rec := f.call(rt.method, p, "{}", "", true); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without a session: %d, want 401", rt.method, p, rec.Code)
		}
		if rec := f.call(rt.method, p, "{}", "bob", true); rec.Code != http.StatusForbidden {
			t.Errorf("%s %s as a non-admin: %d, want 403", rt.method, p, rec.Code)
		}
		if rt.method == http.MethodGet {
			continue
		}
		if rec := f.call(rt.method, p, "{}", "root", false); rec.Code != http.StatusForbidden {
			t.Errorf("%s %s as admin without the CSRF token: %d, want 403", rt.method, p, rec.Code)
		}
		if rec := f.call(rt.method, p, "{}", "root", true, "Origin", "http://evil.test"); rec.Code != http.StatusForbidden {
			t.Errorf("%s %s as admin from a foreign origin: %d, want 403", rt.method, p, rec.Code)
		}
	}
	if _, err := f.store.Get("bob"); err != nil || len(f.tubes.closed) != 0 {
		t.Fatalf("a refused call changed something: %v %v", err, f.tubes.closed)
	}
	// Taking the flag away applies at the next request.
	no := false
	if err := f.store.Set("root", users.Edit{Admin: &no}, users.Actor{}); err != nil {
		t.Fatal(err)
	}
	if rec := f.call("GET", "/api/admin/users", "", "root", true); rec.Code != http.StatusForbidden {
		t.Errorf("a former admin: %d, want 403", rec.Code)
	}
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) webapi.ErrorBody {
	t.Helper()
	var e webapi.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	return e
}

// TestUserRefusalsAreTheCLIs: the admin API refuses what `gateway user`
// refuses, with its words (the users package's).
func TestUserRefusalsAreTheCLIs(t *testing.T) {
	f := setup(t)
	_, pwErr := users.HashPassword("short")
	nameErr := users.ValidateName("Bad Name")
	_, openErr := (&users.User{Name: "carol", PermitOpen: []string{"nohost"}}).Policy()
	for _, c := range []struct {
		body, field, msg string
		code             int
	}{
		{`{"name":"Bad Name","password":"long-enough"}`, "name", nameErr.Error(), 400},
		{`{"name":"carol","password":"short"}`, "password", pwErr.Error(), 400},
		{`{"name":"carol"}`, "password", users.ErrNoLogin.Error(), 400},
		{`{"name":"carol","password":"long-enough","permit_open":["nohost"]}`, "permit_open", openErr.Error(), 400},
		{`{"name":"carol","keys":"not a key"}`, "keys", "", 400},
		{`{"name":"bob","password":"long-enough"}`, "name", "user bob already exists", 409},
	} {
		rec := f.call("POST", "/api/admin/users", c.body, "root", true)
		e := errorOf(t, rec)
		if rec.Code != c.code || e.Field != c.field || (c.msg != "" && e.Error != c.msg) {
			t.Errorf("%s: %d %+v, want %d %s %q", c.body, rec.Code, e, c.code, c.field, c.msg)
		}
	}
	rec := f.call("POST", "/api/admin/users", `{"name":"carol","password":"long-enough","permit_open":["localhost:22"]}`, "root", true)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []struct {
		path, body, field, msg string
		code                   int
	}{
		{"carol", `{"no_password":true}`, "password", users.ErrLastLogin.Error(), 400},
		{"carol", `{"remove_keys":"` + key + `"}`, "remove_keys", "", 400},
		{"nobody", `{"admin":true}`, "", "user nobody: no such user", 404},
		{"root", `{"admin":false}`, "admin", "", 400},
	} {
		rec := f.call("PATCH", "/api/admin/users/"+c.path, c.body, "root", true)
		e := errorOf(t, rec)
		if rec.Code != c.code || e.Field != c.field || (c.msg != "" && e.Error != c.msg) {
			t.Errorf("PATCH %s %s: %d %+v", c.path, c.body, rec.Code, e)
		}
	}
	if rec := f.call("PATCH", "/api/admin/users/carol", `{"add_keys":"`+key+`","admin":true,"permit_listen":["8080"]}`, "root", true); rec.Code != 200 {
		t.Fatalf("change: %d %s", rec.Code, rec.Body)
	}
	u, _ := f.store.Get("carol")
	if !u.Admin || len(u.Keys) != 1 || len(u.PermitListen) != 1 {
		t.Fatalf("carol after the change: %+v", u)
	}
	if rec := f.call("DELETE", "/api/admin/users/root", "", "root", true); rec.Code != 400 {
		t.Errorf("deleting oneself: %d", rec.Code)
	}
	if rec := f.call("DELETE", "/api/admin/users/carol", "", "root", true); rec.Code != 204 {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	ch, _, _ := f.store.ChangesSince(0)
	var got []string
	for _, c := range ch {
		if c.By == "root" {
			got = append(got, c.Action+" "+c.User)
		}
	}
	if strings.Join(got, ",") != "created carol,changed carol,deleted carol" {
		t.Errorf("journal by root: %v", got)
	}
}

func TestTubesAndLinks(t *testing.T) {
	f := setup(t)
	rec := f.call("GET", "/api/admin/tubes", "", "root", true)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"id":"t1"`) {
		t.Fatalf("tubes: %d %s", rec.Code, rec.Body)
	}
	if rec := f.call("DELETE", "/api/admin/tubes/t9", "", "root", true); rec.Code != 404 {
		t.Errorf("unknown tube: %d", rec.Code)
	}
	if rec := f.call("DELETE", "/api/admin/tubes/t1", "", "root", true); rec.Code != 204 || len(f.tubes.closed) != 1 ||
		f.tubes.closed[0] != "t1 by root" {
		t.Errorf("disconnect: %d %v", rec.Code, f.tubes.closed)
	}
	if rec := f.call("DELETE", "/api/admin/links/nope", "", "root", true); rec.Code != 404 {
		t.Errorf("unknown link: %d %s", rec.Code, rec.Body)
	}
	if rec := f.call("GET", "/api/admin/links", "", "root", true); rec.Code != 200 || rec.Body.String() != "[]\n" {
		t.Errorf("links: %d %s", rec.Code, rec.Body)
	}
	if rec := f.call("GET", "/api/admin/audit?n=5", "", "root", true); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"events":[]`) {
		t.Errorf("audit: %d %s", rec.Code, rec.Body)
	}
}
