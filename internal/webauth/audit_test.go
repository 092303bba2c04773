package webauth

import (
	"net/http"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/tubegate/tubegate/internal/audit"
	"github.com/tubegate/tubegate/internal/users"
)

func TestLoginsAudited(t *testing.T) {
	dir := t.TempDir()
	store, err := users.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	log, _ := audit.Open("", audit.Options{})
	m, err := New(Config{Dir: dir, Users: store, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	h := chi.NewRouter()
	m.Mount(h)
	hash, _ := users.HashPassword("correct-horse")
	if err := store.Add(users.User{Name: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	post(h, "/api/login", `{"user":"bob","password":"wrong-horse"}`, nil)
	if rec := post(h, "/api/login", `{"user":"bob","password":"correct-horse"}`, nil); rec.Code != http.StatusOK {
		t.Fatalf("login: %d", rec.Code)
	}
	post(h, "/api/login/first", `{"token":"nope"}`, nil)
	ev := log.Recent(0)
	if len(ev) != 3 {
		t.Fatalf("events %+v", ev)
	}
	want := []struct{ outcome, user, method string }{
		{audit.Refused, "", "first-run link"}, {audit.Success, "bob", "password"}, {audit.Refused, "bob", "password"},
	}
	for i, w := range want {
		e := ev[i]
		if e.Event != audit.WebLogin || e.Outcome != w.outcome || e.User != w.user || e.Method != w.method || e.Source == "" {
			t.Errorf("event %d: %+v, want %+v", i, e, w)
		}
	}
}
