package linkcmd

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tubegate/tubegate/internal/sharelink"
)

func TestCommand(t *testing.T) {
	store, err := sharelink.Open(t.TempDir(), sharelink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := &sharelink.Service{Store: store, URLs: sharelink.URLs{Base: "http://gw.test"}}
	run := func(user string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		cfg := Config{User: user, Service: func() (*sharelink.Service, error) { return svc, nil }}
		code := Run(context.Background(), cfg, args, &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run("alice", "create", "myapp:80", "--expires", "2h", "--basic-auth", "v:password1")
	if code != 0 || !strings.HasPrefix(out, "http://gw.test/s/") {
		t.Fatalf("create: %d %q %q", code, out, errOut)
	}
	url := strings.SplitN(out, "\n", 2)[0]
	token := strings.TrimSuffix(strings.TrimPrefix(url, "http://gw.test/s/"), "/")
	l, ok := store.ByToken(token)
	if !ok || l.User != "alice" || !l.HasBasicAuth() {
		t.Fatalf("the printed URL's link: %+v %v", l, ok)
	}
	if code, out, _ := run("alice", "list"); code != 0 || !strings.Contains(out, l.ID) || strings.Contains(out, token) {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, out, _ := run("bob", "list"); code != 0 || strings.Contains(out, l.ID) {
		t.Fatalf("bob's list shows alice's link: %q", out)
	}
	if code, _, _ := run("bob", "revoke", l.ID); code != 1 {
		t.Fatalf("bob revoked alice's link: exit %d", code)
	}
	for _, args := range [][]string{nil, {"create"}, {"create", "a:1", "b:2"}, {"create", "--nope", "a:1"}, {"frob"}, {"revoke"}} {
		if code, _, errOut := run("alice", args...); code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("link %v: exit %d %q, want 2 with usage", args, code, errOut)
		}
	}
	if code, out, _ := run("alice", "revoke", l.ID); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %q", code, out)
	}
}

// TestAdminCommand: without a session's user, --user names the owner of a
// new link, list shows everyone's links with their owner, and revoke takes
// anyone's link.
func TestAdminCommand(t *testing.T) {
	store, err := sharelink.Open(t.TempDir(), sharelink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := &sharelink.Service{Store: store, URLs: sharelink.URLs{Base: "http://gw.test"}}
	cfg := Config{
		Service: func() (*sharelink.Service, error) { return svc, nil },
		Owner: func(name string) (string, error) {
			if name == "" {
				return "alice", nil // the only user
			}
			return name, nil
		},
	}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := New(cfg)
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.Execute()
		return out.String(), err
	}
	if _, err := run("create", "myapp:80"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("create", "other:80", "--user", "bob"); err != nil {
		t.Fatal(err)
	}
	out, err := run("list")
	if err != nil || !strings.Contains(out, "USER") || !strings.Contains(out, "alice") || !strings.Contains(out, "bob") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	bobs, _ := store.List("bob")
	if out, err := run("list", "--user", "bob"); err != nil || strings.Contains(out, "alice") || !strings.Contains(out, bobs[0].ID) {
		t.Fatalf("list --user bob: %v\n%s", err, out)
	}
	if out, err := run("revoke", bobs[0].ID); err != nil || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke bob's link: %v %s", err, out)
	}
}
