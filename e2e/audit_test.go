package e2e

import (
	"fmt"
	"os"
	"os/user"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// TestAuditLogEvents: with GATEWAY_AUDIT_LOG the built gateway writes one
// JSON line per security event, each with time, user, source, tube and
// outcome: web logins, a tube's open and close (bytes, duration), forwards
// published and refused, direct-tcpip opened and refused, share links
// created (page and CLI), used (once per source), revoked and expired, and
// users created, changed and deleted by the CLI (by cli:OSUSER).
func TestAuditLogEvents(t *testing.T) {
	w := newAdminWorld(t)
	g, path := w.g, w.auditLog
	me := "unknown"
	if u, err := user.Current(); err == nil {
		me = u.Username
	}
	cli := "cli:" + me

	// Web logins.
	c := webClient{base: "http://" + g.httpAddr, client: noRedirectClient()}
	if status, _ := c.call(t, "POST", "/api/login", map[string]string{"user": "bob", "password": "wrong-password"}); status != 401 {
		t.Fatalf("wrong password: %d", status)
	}
	waitAudit(t, path, map[string]string{"event": "web.login", "outcome": "refused", "user": "bob"})
	bob := webLogin(t, g, "bob", bobPassword)
	waitAudit(t, path, map[string]string{"event": "web.login", "outcome": "success", "user": "bob", "method": "password"})

	// A tube, its forwards and direct-tcpip.
	tube, done := w.bobTube(t)
	open := waitAudit(t, path, map[string]string{"event": "tube.open", "user": "bob", "transport": "tcp"})
	id := open.s("tube")
	if !regexp.MustCompile(`^t\d+$`).MatchString(id) || host(open.s("source")) != "127.0.0.1" {
		t.Fatalf("tube.open without its tube id or source: %v", open)
	}
	ep := publishHTTP(t, tube, "hello from bob")
	waitAudit(t, path, map[string]string{"event": "forward.publish", "outcome": "success", "tube": id, "target": ep})
	if _, err := tube.Listen("tcp", "127.0.0.1:80"); err == nil {
		t.Fatal("a privileged -R was published")
	}
	waitAudit(t, path, map[string]string{"event": "forward.publish", "outcome": "refused", "tube": id, "target": "127.0.0.1:80"})
	if _, err := tube.Dial("tcp", "127.0.0.1:1"); err == nil {
		t.Fatal("a direct-tcpip outside permit-open went through")
	}
	waitAudit(t, path, map[string]string{"event": "direct_tcpip.open", "outcome": "refused", "tube": id, "target": "127.0.0.1:1"})
	g.mustCLI(t, "", "user", "set", "bob", "--permit-open", g.httpAddr)
	ch := waitAudit(t, path, map[string]string{"event": "user.change", "subject": "bob", "by": cli})
	if !strings.Contains(fmt.Sprint(ch["fields"]), "permit_open") {
		t.Errorf("user.change without the field changed: %v", ch)
	}
	conn, err := tube.Dial("tcp", g.httpAddr)
	if err != nil {
		t.Fatalf("direct-tcpip within permit-open: %v", err)
	}
	conn.Close()
	waitAudit(t, path, map[string]string{"event": "direct_tcpip.open", "outcome": "success", "tube": id, "target": g.httpAddr})

	// Share links: from the page's API, used from two sources (once
	// each, however often), revoked; from the CLI; expired.
	status, body := bob.call(t, "POST", "/api/links", map[string]any{"endpoint": ep})
	if status != 201 {
		t.Fatalf("POST /api/links: %d %s", status, body)
	}
	l := parseJSONLink(t, body)
	waitAudit(t, path, map[string]string{"event": "link.create", "link": l.id, "user": "bob", "by": "bob"})
	for _, src := range []string{"127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2"} {
		if code, got := getFrom(t, clientFrom(src), l.url); code != 200 || got != "hello from bob" {
			t.Fatalf("GET the link from %s: %d %q", src, code, got)
		}
	}
	waitAudit(t, path, map[string]string{"event": "link.use", "link": l.id, "outcome": "success"})
	uses := map[string]int{}
	for _, e := range readAudit(t, path) {
		if e.match(map[string]string{"event": "link.use", "link": l.id}) {
			uses[host(e.s("source"))]++
		}
	}
	if uses["127.0.0.1"] != 1 || uses["127.0.0.2"] != 1 {
		t.Errorf("link.use per source %v, want one each for 3 requests from 127.0.0.1 and 1 from 127.0.0.2", uses)
	}
	if status, body := bob.call(t, "DELETE", "/api/links/"+l.id, nil); status != 204 {
		t.Fatalf("revoke: %d %s", status, body)
	}
	waitAudit(t, path, map[string]string{"event": "link.revoke", "link": l.id, "by": "bob"})
	byCLI := createLink(t, g, ep, "--user", "bob")
	waitAudit(t, path, map[string]string{"event": "link.create", "link": byCLI.id, "by": "cli"})
	g.mustCLI(t, "", "link", "revoke", byCLI.id)
	waitAudit(t, path, map[string]string{"event": "link.revoke", "link": byCLI.id, "by": "cli"})
	short := createLink(t, g, ep, "--user", "bob", "--expires", "1s")
	waitAudit(t, path, map[string]string{"event": "link.expire", "link": short.id, "user": "bob"})

	// Users, from the CLI.
	g.mustCLI(t, "carol-password-1\n", "user", "add", "carol", "--password-stdin")
	waitAudit(t, path, map[string]string{"event": "user.create", "subject": "carol", "by": cli})
	g.mustCLI(t, "", "user", "del", "carol")
	waitAudit(t, path, map[string]string{"event": "user.delete", "subject": "carol", "by": cli})

	// The tube's end, with its bytes and duration.
	tube.Close()
	<-done
	closed := waitAudit(t, path, map[string]string{"event": "tube.close", "tube": id})
	if closed["bytes_in"] == nil || closed["bytes_out"] == nil || closed["duration_ms"] == nil {
		t.Errorf("tube.close without bytes or duration: %v", closed)
	}
	events := readAudit(t, path)
	for _, e := range events {
		for _, k := range []string{"time", "event", "user", "source", "tube", "outcome"} {
			if _, ok := e[k]; !ok {
				t.Errorf("event without %q: %v", k, e)
			}
		}
	}
	t.Logf("%d audit events written", len(events))
}

// TestAuditLogRotateAndShutdown: after mv audit.log audit.log.1 and
// SIGHUP, new events go to a new audit.log and the old ones stay in the
// moved file; on SIGTERM the events of the last moment (a user change,
// the close of a tube still open) are in the file when the gateway has
// exited.
func TestAuditLogRotateAndShutdown(t *testing.T) {
	w := newAdminWorld(t)
	g, path := w.g, w.auditLog
	_, _ = w.bobTube(t)
	waitAudit(t, path, map[string]string{"event": "tube.open", "user": "bob"})
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := g.proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	g.proc.mustWaitLine(t, regexp.MustCompile(`msg="audit log reopened"`), startTimeout)
	webLogin(t, g, "root", rootPassword)
	waitAudit(t, path, map[string]string{"event": "web.login", "user": "root"})
	for _, e := range readAudit(t, path+".1") {
		if e.s("event") == "web.login" {
			t.Errorf("an event after the reopen went to the rotated file: %v", e)
		}
	}
	if n := len(readAudit(t, path+".1")); n == 0 {
		t.Error("the rotated file lost its events")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new audit log: %v (mode %v), want 0600", err, fi.Mode().Perm())
	}

	g.mustCLI(t, "", "user", "set", "bob", "--permit-open", "localhost:22")
	g.stop(t)
	after := readAudit(t, path)
	var change, closed bool
	for _, e := range after {
		change = change || e.match(map[string]string{"event": "user.change", "subject": "bob"})
		closed = closed || e.match(map[string]string{"event": "tube.close", "user": "bob"})
	}
	if !change || !closed {
		t.Errorf("after a clean shutdown: user.change written %v, tube.close of the open tube written %v", change, closed)
	}
}
