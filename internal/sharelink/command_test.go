package sharelink

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestCommand(t *testing.T) {
	store := openStore(t, t.TempDir(), newClock(), 0)
	svc := &Service{Store: store, URLs: URLs{Base: "http://gw.test"}}
	run := func(user string, args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := svc.Run(context.Background(), user, args, &out, &errOut)
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
