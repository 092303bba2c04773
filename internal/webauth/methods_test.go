package webauth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/users"
)

func TestPasswordLoginOffAndMethods(t *testing.T) {
	dir := t.TempDir()
	store, err := users.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := users.HashPassword("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(users.User{Name: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	sso := []LoginMethod{{Name: "idp.example.com", URL: "/auth/oidc/login"}}
	for _, off := range []bool{false, true} {
		m, err := New(Config{Dir: dir, Users: store, NoPasswordLogin: off, SSO: sso})
		if err != nil {
			t.Fatal(err)
		}
		r := chi.NewRouter()
		m.Mount(r)
		rec := post(r, "/api/login", `{"user":"bob","password":"correct-horse"}`, nil)
		if want := map[bool]int{false: http.StatusOK, true: http.StatusForbidden}[off]; rec.Code != want {
			t.Fatalf("password login off=%v: %d %s, want %d", off, rec.Code, rec.Body, want)
		}
		if off && len(rec.Result().Cookies()) != 0 {
			t.Fatalf("refused password login set cookies: %v", rec.Result().Cookies())
		}
		rec = httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://gw.test/api/login/methods", nil))
		var got methodsReply
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("methods: %d %s (%v)", rec.Code, rec.Body, err)
		}
		if got.Password == off || len(got.SSO) != 1 || got.SSO[0] != sso[0] {
			t.Fatalf("methods with password login off=%v: %+v", off, got)
		}
	}
}
