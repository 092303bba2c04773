package webauth

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tubegate/tubegate/internal/users"
)

// liveness bounds waits for things a correct Manager does at once.
const liveness = 10 * time.Second

// loggedIn starts a session for user and returns its cookie and CSRF token.
func loggedIn(t *testing.T, m *Manager, user string) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	csrf, err := m.startSession(rec, httptest.NewRequest(http.MethodPost, "http://gw.test/api/login", nil), user)
	if err != nil {
		t.Fatal(err)
	}
	return sessionCookie(t, rec), csrf
}

// TestSlowLogoutSaveBlocksNoOne: while a logout's write of the revoked
// list hangs (a slow disk), other sessions' requests are answered, and the
// logout answers once its write is done and kept across a restart.
func TestSlowLogoutSaveBlocksNoOne(t *testing.T) {
	dir, store, m, h := setup(t)
	hash, err := users.HashPassword("correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add(users.User{Name: "bob", PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	leaving, leavingCSRF := loggedIn(t, m, "bob")
	staying, _ := loggedIn(t, m, "bob")

	writing, release := make(chan struct{}), make(chan struct{})
	m.revSaves.write = func(dir string, revoked map[string]time.Time) error {
		close(writing)
		<-release
		return saveRevoked(dir, revoked)
	}
	logout := make(chan int, 1)
	go func() {
		logout <- post(h, "/api/logout", "", map[string]string{CSRFHeader: leavingCSRF}, leaving).Code
	}()
	select {
	case <-writing:
	case <-time.After(liveness):
		t.Fatal("the logout never wrote the revoked list")
	}

	answered := make(chan bool, 1)
	go func() {
		req := httptest.NewRequest(http.MethodGet, "http://gw.test/api/session", nil)
		req.AddCookie(staying)
		_, ok := m.userOf(req)
		answered <- ok
	}()
	select {
	case ok := <-answered:
		if !ok {
			t.Error("the other session stopped working")
		}
	case <-time.After(liveness):
		close(release)
		<-logout
		t.Fatal("an authenticated request waited for another session's logout to reach the disk")
	}

	select {
	case code := <-logout:
		t.Fatalf("the logout answered %d before its write finished", code)
	default:
	}
	close(release)
	if code := <-logout; code != http.StatusNoContent {
		t.Fatalf("logout: %d", code)
	}
	m2, err := New(Config{Dir: dir, Users: store})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "http://gw.test/api/session", nil)
	req.AddCookie(leaving)
	if _, ok := m2.userOf(req); ok {
		t.Error("a logged-out session works again after a restart")
	}
}

// TestRevokedSavesNewestWins: snapshots written out of order never put an
// older list over a newer one.
func TestRevokedSavesNewestWins(t *testing.T) {
	dir := t.TempDir()
	var s revokedSaver
	until := time.Now().Add(time.Hour).Round(time.Second)
	revoked := map[string]time.Time{"a": until}
	first := s.snapshot(revoked)
	revoked["b"] = until
	second := s.snapshot(revoked)
	if err := s.save(dir, second); err != nil {
		t.Fatal(err)
	}
	if err := s.save(dir, first); err != nil { // late: must not undo "b"
		t.Fatal(err)
	}
	got, err := loadRevoked(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("saved %v, want a and b", got)
	}
}
