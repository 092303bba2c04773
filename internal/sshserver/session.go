package sshserver

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tubegate/tubegate/internal/forward"
)

// session answers a session channel: there is no shell on the gateway, so
// a shell request prints the tube's status, and an exec request runs one
// of the registered commands.
func (t *Tube) session(ctx context.Context, nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	t.mu.Lock()
	t.sessions[ch] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.sessions, ch)
		t.mu.Unlock()
		ch.Close()
	}()
	for req := range reqs {
		switch req.Type {
		case "pty-req", "env", "window-change", "auth-agent-req@openssh.com":
			if req.WantReply {
				req.Reply(req.Type != "auth-agent-req@openssh.com", nil)
			}
		case "shell":
			req.Reply(true, nil)
			t.writeStatus(ctx, ch)
			exit(ch, 0)
			return
		case "exec":
			var cmd struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &cmd); err != nil {
				req.Reply(false, nil)
				return
			}
			req.Reply(true, nil)
			exit(ch, t.exec(ctx, ch, cmd.Command))
			return
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
}

func (t *Tube) exec(ctx context.Context, ch ssh.Channel, line string) int {
	args := strings.Fields(line)
	if len(args) == 0 || args[0] == "status" {
		t.writeStatus(ctx, ch)
		return 0
	}
	if cmd, ok := t.srv.cfg.Commands[args[0]]; ok {
		t.log.Info("command", "args", args)
		return cmd(ctx, t, args[1:], ch, ch.Stderr())
	}
	names := []string{"status"}
	for n := range t.srv.cfg.Commands {
		names = append(names, n)
	}
	fmt.Fprintf(ch.Stderr(), "tubegate: unknown command %q; there is no shell on the gateway (commands: %s)\r\n",
		args[0], strings.Join(names, ", "))
	return 127
}

func exit(ch ssh.Channel, status int) {
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
}

// writeStatus prints who the user is and what they publish: from every
// tube, on every node of a cluster.
func (t *Tube) writeStatus(ctx context.Context, w io.Writer) {
	nl := "\r\n"
	fmt.Fprintf(w, "Tubegate: you are %s (connection %s from %s over %s, up %s)%s",
		t.user, t.id, t.RemoteAddr(), t.transport, time.Since(t.started).Round(time.Second), nl)
	// All the user's endpoints, from every tube, as the page's home lists them.
	reg := t.srv.cfg.Registry
	eps := reg.ListUser(t.user)
	remote, rerr := reg.Remote(ctx, []string{t.user}, nil)
	if len(eps) == 0 && len(remote) == 0 {
		fmt.Fprintf(w, "You publish nothing. Publish a host with ssh -R, e.g. -R myhost.%s:22:localhost:22%s", t.user, nl)
	} else {
		fmt.Fprintf(w, "Your endpoints (%d, from all your connections):%s", len(eps)+len(remote), nl)
		for _, ep := range eps {
			via := "this connection"
			if ep.Owner != forward.Owner(t) {
				via = "connection " + ep.Owner.ID()
			}
			writeEndpoint(w, t.user, ep, via, nl)
		}
		for _, c := range remote {
			writeRemote(w, t.user, c, nl)
		}
	}
	if rerr != nil {
		t.log.Debug("status: other nodes' endpoints not listed", "err", rerr)
		note := "cluster directory unavailable"
		if strings.Contains(rerr.Error(), "cluster unavailable: redis unreachable") {
			note = "cluster unavailable: redis unreachable"
		}
		fmt.Fprintf(w, "  (%s: your endpoints on other nodes are not listed)%s", note, nl)
	}
	t.mu.Lock()
	notes := append([]string(nil), t.notes...)
	t.mu.Unlock()
	for _, n := range notes {
		fmt.Fprintf(w, "  refused: %s%s", n, nl)
	}
	fmt.Fprintf(w, "There is no shell on the gateway: use -N for forwards, -J to reach a host.%s", nl)
}

func writeEndpoint(w io.Writer, user string, ep *forward.Endpoint, via, nl string) {
	st := ep.Stats.Snapshot()
	counts := fmt.Sprintf("%d open, %d total, %d B in, %d B out; %s", st.Active, st.Total, st.BytesIn, st.BytesOut, via)
	if ep.Virtual {
		fmt.Fprintf(w, "  %-24s virtual name (ssh -J %s@GATEWAY USER@%s -p %d)  %s%s",
			ep.Key, user, ep.BindHost, ep.BindPort, counts, nl)
		return
	}
	fmt.Fprintf(w, "  %-24s listening  %s%s", ep.Addr(), counts, nl)
}

// writeRemote prints an endpoint of the user's held by a tube on another
// node of the cluster: its traffic is counted there.
func writeRemote(w io.Writer, user string, c forward.Claim, nl string) {
	via := fmt.Sprintf("on node %s, connection %s", c.Node, c.Tube)
	if c.Virtual {
		fmt.Fprintf(w, "  %-24s virtual name (ssh -J %s@GATEWAY USER@%s -p %d)  %s%s",
			c.Key, user, c.BindHost, c.BindPort, via, nl)
		return
	}
	fmt.Fprintf(w, "  %-24s listening  %s%s", c.Key, via, nl)
}
