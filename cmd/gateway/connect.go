package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tubegate/tubegate/internal/bridge"
	"github.com/tubegate/tubegate/internal/procs"
	"github.com/tubegate/tubegate/internal/resume"
)

func newConnect() *cobra.Command {
	var caFile string
	var timeout time.Duration
	var noResume bool
	var cpuProfile string
	var cpuProfileFor time.Duration
	var ropts resume.Options
	cmd := &cobra.Command{
		Use:   "connect URL",
		Short: "Carry stdin/stdout over a WebSocket to the gateway (an ssh ProxyCommand)",
		Long: `connect joins its standard input and output to the gateway's SSH WebSocket,
so that stock OpenSSH can reach the gateway through networks that only let
HTTP(S) out:

  ssh -o ProxyCommand='gateway connect wss://gw.example.com/ssh' alice@gw

The tube is resumable (the tubegate.resume.v1 protocol, see docs/resume.md):
when the WebSocket drops or goes silent (a reset, a dead NAT, a laptop
that slept) connect redials and resumes it within the gateway's resume
window (2 minutes by default), resending what was lost, so ssh sees a
pause and never a disconnect; nothing changes on the ssh side. Each
outage is reported on stderr. --no-resume speaks the raw protocol: one
drop then ends the ssh session.

Through a proxy: HTTPS_PROXY (for wss://), HTTP_PROXY (for ws://) and
NO_PROXY are honoured, with credentials as http://user:pass@proxy:3128; the
proxy is asked to CONNECT to the gateway, for ws:// as for wss://. --ca
trusts a private CA: the gateway's own, or a TLS-intercepting proxy's. It
exits non-zero with a one-line reason on a bad URL, a refusal (the
gateway's or the proxy's), a TLS error, or a tube the gateway could not
resume. It runs its Go code on one thread at a time unless GOMAXPROCS is
set.`,
		Example: `  gateway connect wss://gw.example.com/ssh
  HTTPS_PROXY=http://alice:secret@proxy.corp:3128 gateway connect wss://gw.example.com/ssh
  gateway connect --ca corp-root.pem wss://gw.example.com/ssh`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tlsCfg, err := bridge.ClientTLS(caFile)
			if err != nil {
				return err
			}
			// OpenSSH ends its ProxyCommand with SIGHUP: the tube is then
			// closed with a close frame, so that the gateway does not hold
			// a resumable tube for a client that is gone.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			dctx, cancel := context.WithTimeout(ctx, timeout)
			var conn net.Conn
			if noResume {
				conn, err = bridge.Dial(dctx, args[0], bridge.DialOptions{TLSConfig: tlsCfg})
			} else {
				ropts.OnState = reportState(cmd.ErrOrStderr())
				conn, err = bridge.DialResume(dctx, args[0], bridge.DialOptions{TLSConfig: tlsCfg}, ropts)
			}
			cancel()
			if err != nil {
				return err
			}
			stopProfile, err := startCPUProfile(cpuProfile, cpuProfileFor)
			if err != nil {
				conn.Close()
				return err
			}
			defer stopProfile()
			growPipes(os.Stdin, os.Stdout)
			// connect is two goroutines bound by system calls: one P
			// (0.27x -> 0.24x OpenSSH's CPU per MB, median of 3 paired runs).
			procs.One()
			return relay(ctx, conn, os.Stdin, os.Stdout)
		},
	}
	cmd.Flags().StringVar(&caFile, "ca", "", "PEM file of CAs to trust for wss:// besides the system roots (a private CA, or a TLS-intercepting proxy's)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up if the WebSocket is not open by then")
	cmd.Flags().BoolVar(&noResume, "no-resume", false, "raw tube: no resumption (a dropped WebSocket ends the session)")
	cmd.Flags().DurationVar(&ropts.Heartbeat, "resume-heartbeat", resume.DefaultHeartbeat, "idle heartbeat of a resumable tube, both ways (1s to 20s)")
	cmd.Flags().DurationVar(&ropts.Timeout, "resume-timeout", 0, "take the WebSocket for dead after this long without a message, and resume (default 3 × --resume-heartbeat)")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the relay to this file (for docs/perf)")
	cmd.Flags().DurationVar(&cpuProfileFor, "cpuprofile-for", 0, "stop the CPU profile after this long (0: at exit)")
	cmd.Flags().MarkHidden("cpuprofile")
	cmd.Flags().MarkHidden("cpuprofile-for")
	return cmd
}

// reportState writes a resumable tube's outages and resumes to w, one
// line each, as ssh shows a ProxyCommand's stderr.
func reportState(w io.Writer) func(resume.State) {
	return func(s resume.State) {
		switch s.Kind {
		case resume.Reconnecting, resume.Resumed:
			fmt.Fprintf(w, "gateway connect: %s\n", s)
		case resume.Failed:
			if !errors.Is(s.Err, net.ErrClosed) && !errors.Is(s.Err, io.EOF) {
				fmt.Fprintf(w, "gateway connect: %s\n", s)
			}
		}
	}
}

// relayBuf is the copy buffer of each direction: a stdin read of a bulk
// stream is then up to this large, and is sent as one WebSocket message,
// instead of one message per 32 KiB.
const relayBuf = 256 << 10

// readerOnly and writerOnly hide ReadFrom/WriteTo, so the copies use the
// buffers above.
type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }

// relay copies in -> conn and conn -> out until either side ends. The
// stream is SSH: when one direction ends the session is over, so the
// other is not waited for.
func relay(ctx context.Context, conn io.ReadWriteCloser, in io.Reader, out io.Writer) error {
	done := make(chan error, 2)
	go func() {
		_, err := io.CopyBuffer(writerOnly{conn}, readerOnly{in}, make([]byte, relayBuf))
		done <- err
	}()
	go func() {
		var err error
		if wt, ok := conn.(io.WriterTo); ok { // a resumable tube: no copy of ours
			_, err = wt.WriteTo(out)
		} else {
			_, err = io.CopyBuffer(writerOnly{out}, readerOnly{conn}, make([]byte, relayBuf))
		}
		if err == nil {
			err = io.EOF
		}
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
	}
	conn.Close()
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var ce *resume.CloseError
	if errors.As(err, &ce) {
		if ce.Code == resume.CloseNormal {
			return nil
		}
		return fmt.Errorf("the gateway closed the connection: %s (%d)", ce.Reason, ce.Code)
	}
	return fmt.Errorf("connection: %w", err)
}
