package users

import (
	"errors"
	"slices"
	"testing"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFlm6hyzR4lD1mUhYtUHvQBhN6oIlkkE3LTb9ZKBO+Xa test"

func TestCreateAndEditShareTheRefusals(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(User{Name: "bob"}, Actor{By: "alice"}); !errors.Is(err, ErrNoLogin) {
		t.Fatalf("no login: %v", err)
	}
	if err := s.Create(User{Name: "Bob!", Keys: []string{testKey}}, Actor{By: "alice"}); err == nil {
		t.Fatal("a bad name was accepted")
	}
	if err := s.Create(User{Name: "bob", Keys: []string{testKey}, PermitOpen: []string{"nope"}}, Actor{By: "alice"}); err == nil {
		t.Fatal("a bad permit-open was accepted")
	}
	if err := s.Create(User{Name: "bob", Keys: []string{testKey}}, Actor{By: "alice"}); err != nil {
		t.Fatal(err)
	}
	err = s.Set("bob", Edit{RemoveKeys: []string{testKey}}, Actor{By: "alice"})
	if !errors.Is(err, ErrLastLogin) {
		t.Fatalf("removing the last key: %v", err)
	}
	other := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ9n3m0PZ0Gd2QJ5o1o3n4m0F7KJ9N6x1w2Y3p0YzVbB x"
	if _, ok := errors.AsType[*KeyNotFoundError](s.Set("bob", Edit{RemoveKeys: []string{other}}, Actor{By: "alice"})); !ok {
		t.Fatal("removing a key bob does not have was not refused")
	}
	if err := s.Set("nobody", Edit{}, Actor{By: "alice"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	open := []string{"localhost:22"}
	yes := true
	if err := s.Set("bob", Edit{PermitOpen: &open, Admin: &yes, PasswordHash: "$2a$x"}, Actor{By: "alice"}); err != nil {
		t.Fatal(err)
	}
	u, _ := s.Get("bob")
	if !u.Admin || !slices.Equal(u.PermitOpen, open) || u.Generation != 1 {
		t.Fatalf("after the edit: %+v", u)
	}
	if err := s.DeleteBy("bob", Actor{By: "cli:root"}); err != nil {
		t.Fatal(err)
	}
	ch, last, err := s.ChangesSince(0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Seq: 1, By: "alice", Action: ActionCreated, User: "bob"},
		{Seq: 2, By: "alice", Action: ActionChanged, User: "bob", Fields: []string{"password", "permit_open", "admin"}},
		{Seq: 3, By: "cli:root", Action: ActionDeleted, User: "bob"},
	}
	if len(ch) != len(want) || last != 3 {
		t.Fatalf("journal %+v (last %d)", ch, last)
	}
	for i, c := range ch {
		c.Time = want[i].Time
		if c.Seq != want[i].Seq || c.By != want[i].By || c.Action != want[i].Action || c.User != want[i].User ||
			!slices.Equal(c.Fields, want[i].Fields) {
			t.Errorf("change %d: %+v, want %+v", i, c, want[i])
		}
	}
	if ch, _, _ := s.ChangesSince(3); len(ch) != 0 {
		t.Errorf("nothing after 3, got %+v", ch)
	}
}

func TestJournalBounded(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.SetActor(Actor{By: "cli:x"})
	if err := s.Create(User{Name: "bob", Keys: []string{testKey}}, Actor{}); err != nil {
		t.Fatal(err)
	}
	for range JournalMax + 10 {
		if err := s.EndSessions("bob"); err != nil {
			t.Fatal(err)
		}
	}
	ch, last, _ := s.ChangesSince(0)
	if len(ch) != JournalMax || last != JournalMax+11 || ch[0].By != "cli:x" {
		t.Fatalf("%d changes kept, last %d, by %q", len(ch), last, ch[0].By)
	}
}

func TestSSOUserWithoutCredentials(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSSO(User{Name: "Carol"}, Actor{By: "oidc:idp.test"}); err == nil {
		t.Fatal("a bad name was accepted")
	}
	if err := s.CreateSSO(User{Name: "carol"}, Actor{By: "oidc:idp.test"}); err != nil {
		t.Fatal(err)
	}
	open := []string{"localhost:22"}
	if err := s.Set("carol", Edit{PermitOpen: &open}, Actor{By: "alice"}); err != nil {
		t.Fatalf("a policy edit of a user who signs in by SSO only: %v", err)
	}
	if err := s.Set("carol", Edit{AddKeys: []string{testKey}}, Actor{By: "alice"}); err != nil {
		t.Fatal(err)
	}
	// Once she has a key, it stays her last way to log in.
	if err := s.Set("carol", Edit{RemoveKeys: []string{testKey}}, Actor{By: "alice"}); !errors.Is(err, ErrLastLogin) {
		t.Fatalf("removing carol's only key: %v", err)
	}
	changes, _, err := s.ChangesSince(0)
	if err != nil || len(changes) == 0 || changes[0].By != "oidc:idp.test" || changes[0].User != "carol" {
		t.Fatalf("journal: %+v %v", changes, err)
	}
}
