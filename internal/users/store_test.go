package users

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

func newKey(t *testing.T) (ssh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(ssh.MarshalAuthorizedKey(k))
}

func TestAddAuthenticateDelete(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, line := newKey(t)
	other, _ := newKey(t)
	keys, err := ParseKeys([]byte("# comment\n\n" + line))
	if err != nil || len(keys) != 1 {
		t.Fatalf("ParseKeys: %v, %v", keys, err)
	}
	hash, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(User{Name: "alice", Keys: keys, PasswordHash: hash, PermitOpen: []string{"db:5432"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(User{Name: "alice"}); err == nil {
		t.Error("adding alice twice: want an error")
	}
	if err := s.Add(User{Name: "Bad Name"}); err == nil {
		t.Error("invalid name: want an error")
	}
	if err := s.Add(User{Name: "bob", PermitOpen: []string{"nonsense"}}); err == nil {
		t.Error("invalid policy: want an error")
	}
	if _, err := s.CheckKey("alice", key); err != nil {
		t.Errorf("CheckKey(alice, her key): %v", err)
	}
	if _, err := s.CheckKey("alice", other); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("CheckKey(alice, other key): %v, want bad credentials", err)
	}
	if _, err := s.CheckPassword("alice", "correct horse"); err != nil {
		t.Errorf("CheckPassword right: %v", err)
	}
	for _, c := range [][2]string{{"alice", "wrong horse"}, {"nobody", "correct horse"}} {
		if _, err := s.CheckPassword(c[0], c[1]); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("CheckPassword(%s, %s): %v, want bad credentials", c[0], c[1], err)
		}
	}
	// The file survives a fresh Open, and is private.
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s2.Get("alice")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := u.Policy()
	if err != nil || len(pol.Open) != 1 || pol.Listen != nil {
		t.Errorf("policy %+v, %v: want one open rule and the default listen", pol, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "users.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("users.json mode %v, %v: want 0600", fi.Mode(), err)
	}
	if err := s.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Get("alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("other store still sees alice after delete: %v", err)
	}
}

func TestEditsByAnotherProcessAreSeen(t *testing.T) {
	dir := t.TempDir()
	server, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Get("carol"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get before add: %v", err)
	}
	cli, err := Open(dir) // as `gateway user add` would
	if err != nil {
		t.Fatal(err)
	}
	_, line := newKey(t)
	if err := cli.Add(User{Name: "carol", Keys: []string{line}}); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Get("carol"); err != nil {
		t.Errorf("the running store did not pick up the new user: %v", err)
	}
}

func TestCorruptFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("Open on a corrupt users.json: want an error")
	}
}

func TestShortPasswordRefused(t *testing.T) {
	if _, err := HashPassword("short"); err == nil {
		t.Error("HashPassword(short): want an error")
	}
}

// TestRecordIDAndGeneration: a user added again under the same name is another record; EndSessions
// moves the generation on; records without ids get one on the next write.
func TestRecordIDAndGeneration(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(User{Name: "alice", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	first, _ := s.Get("alice")
	if first.ID == "" || first.Generation != 0 {
		t.Fatalf("new user: id %q generation %d", first.ID, first.Generation)
	}
	if err := s.EndSessions("alice"); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Get("alice"); u.Generation != 1 || u.ID != first.ID {
		t.Fatalf("after EndSessions: %+v", u)
	}
	if err := s.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(User{Name: "alice", PasswordHash: "x", ID: first.ID, Generation: 7}); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Get("alice"); u.ID == first.ID || u.Generation != 0 {
		t.Fatalf("re-added alice has the old record's id or generation: %+v", u)
	}
	if err := s.Update(func(m map[string]*User) error { m["bob"] = &User{Name: "bob"}; return nil }); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Get("bob"); u.ID == "" {
		t.Fatal("a record written without an id got none")
	}
	if err := s.EndSessions("nobody"); err == nil {
		t.Fatal("EndSessions of an unknown user succeeded")
	}
}
