package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"regexp"
	"time"

	"github.com/tubegate/tubegate/internal/gwproc"
)

// browserHost is the virtual name the browser's console reaches the
// throw-away sshd by.
const browserHost = "host.bench" // in the bench user's own namespace

// browserBulkTime is how long the stream through the page's -L runs: twice
// the other figures' time, as this slower path takes longer to reach its
// pace.
func browserBulkTime(cfg Config) time.Duration { return 2 * cfg.Duration }

// browserResult is what the browser figures found.
type browserResult struct {
	wasm          wasmSize
	cold, warm    []pageRun     // page load to a shell prompt, HTTP cache off and on
	hostCipher    string        // the cipher of the page's SSH connection to sshd
	publishCipher string        // the cipher of ssh -R publishing the virtual name
	forwardMBs    float64       // one stream through a -L set up from the page
	bulkTime      time.Duration // how long that stream ran
	listen        string        // where the gateway listened for that -L
	cpu           []procCPU     // each process's CPU over that stream
}

var (
	forwardPublished = regexp.MustCompile(`msg="forward published" .*endpoint=` + regexp.QuoteMeta(browserHost) + `:22\b`)
	sshdCipher       = regexp.MustCompile(`kex: client->server cipher: (\S+)`)
)

// measureBrowser takes the browser figures against the running gateway:
// the wasm's bytes on the wire; in headless Chromium, logged in with the
// page's form, the time from navigation start to a shell prompt of a
// console to a virtual name (published with OpenSSH ssh -R by a throw-away
// sshd's side), with the HTTP cache off and on; and one stream's MB/s
// through a -L added from the page to the sink, with DevTools' network
// events off (they would carry every WebSocket frame to the bench).
func measureBrowser(ctx context.Context, cfg Config, dir string, gw *gateway, id *identity, tg *targets, progress io.Writer) (browserResult, error) {
	var br browserResult
	base := "http://" + gw.HTTPAddr
	chromiumBin, err := chromiumPath(cfg.Chromium)
	if err != nil {
		return br, err
	}
	fmt.Fprintf(progress, "tubebench: browser: wasm on the wire\n")
	if br.wasm, err = measureWasm(ctx, base); err != nil {
		return br, fmt.Errorf("wasm on the wire: %w", err)
	}

	br.publishCipher = "aes128-gcm@openssh.com"
	if len(cfg.Ciphers) > 0 {
		br.publishCipher = cfg.Ciphers[0]
	}
	sd, stopHost, err := startConsoleHost(ctx, dir, gw, id, br.publishCipher)
	if err != nil {
		return br, err
	}
	defer stopHost()

	login, err := user.Current()
	if err != nil {
		return br, fmt.Errorf("current user, to log in to sshd as: %w", err)
	}
	key, err := gwproc.ReadFile(id.KeyFile)
	if err != nil {
		return br, err
	}
	o := consoleLogin{User: benchUser, Password: benchPassword, Target: browserHost, Login: login.Username,
		Key: string(key), MS: browserStep.Milliseconds()}

	fmt.Fprintf(progress, "tubebench: browser: start chromium, log in\n")
	c, err := startChromium(ctx, chromiumBin, dir)
	if err != nil {
		return br, err
	}
	defer c.close()
	if err := c.login(base, o); err != nil {
		return br, err
	}
	fmt.Fprintf(progress, "tubebench: browser: %d page loads to a shell prompt, HTTP cache off\n", cfg.BrowserRuns)
	if br.cold, err = c.timeToPrompt(base, o, cfg.BrowserRuns, true); err != nil {
		return br, fmt.Errorf("page load to a shell prompt, HTTP cache off: %w", err)
	}
	fmt.Fprintf(progress, "tubebench: browser: %d page loads to a shell prompt, HTTP cache on (after one to fill it)\n", cfg.BrowserRuns)
	warm, err := c.timeToPrompt(base, o, cfg.BrowserRuns+1, false)
	if err != nil {
		return br, fmt.Errorf("page load to a shell prompt, HTTP cache on: %w", err)
	}
	br.warm = warm[1:]
	m, err := sd.Proc.WaitLine(ctx, sshdCipher, gwproc.StartTimeout)
	if err != nil {
		return br, fmt.Errorf("the console's cipher: %w", err)
	}
	br.hostCipher = m[1]

	fmt.Fprintf(progress, "tubebench: browser: -L from the page\n")
	if err := c.quiet(); err != nil {
		return br, err
	}
	if br.listen, err = c.addForward("-L 0:" + tg.SinkAddr()); err != nil {
		return br, err
	}
	br.bulkTime = browserBulkTime(cfg)
	// With --profile: the page's own profile (page-L.bulk.cpuprofile) and
	// the gateway's (page-L.bulk.gateway.pprof) over the stream.
	prof := profiler{cfg.ProfileDir}
	roots := []procRoot{{role: roleGateway, pid: gw.Proc.PID()}, {role: roleSSHD, pid: sd.Proc.PID()}}
	if c.pid != 0 {
		roots = append(roots, procRoot{role: roleChromium, pid: c.pid})
	}
	err = c.profilePage(cfg.ProfileDir, "page-L.bulk", func() error {
		return prof.cpu(ctx, gw.PprofAddr, "page-L.bulk", br.bulkTime, func() error {
			before, err := sampleCPU(roots)
			if err != nil {
				return err
			}
			n, el, err := bulkStream(br.listen, time.Now().Add(br.bulkTime), cfg.IOGrace)
			if err != nil {
				return err
			}
			after, err := sampleCPU(roots)
			if err != nil {
				return err
			}
			br.forwardMBs, br.cpu = float64(n)/el.Seconds()/1e6, cpuPerMB(before, after, n)
			return nil
		})
	})
	if err != nil {
		return br, fmt.Errorf("bulk through the page's -L at %s: %w", br.listen, err)
	}
	return br, ctx.Err()
}

// startConsoleHost runs the console's host: a throw-away sshd that logs
// the cipher it agrees on, published as the virtual name browserHost by
// OpenSSH ssh -R over the gateway's TCP SSH listener.
func startConsoleHost(ctx context.Context, dir string, gw *gateway, id *identity, cipher string) (*sshd, func(), error) {
	sd, err := startSSHD(ctx, dir, id, "LogLevel DEBUG1")
	if err != nil {
		return nil, nil, fmt.Errorf("the console's sshd: %w", err)
	}
	stopPublish, err := publishHost(ctx, gw, id, cipher, sd)
	if err != nil {
		sd.Proc.Stop()
		return nil, nil, err
	}
	return sd, func() { stopPublish(); sd.Proc.Stop() }, nil
}

// publishHost runs OpenSSH `ssh -R host.bench:22:SSHD` to the gateway as
// the bench user and waits until the gateway has published the name.
func publishHost(ctx context.Context, gw *gateway, id *identity, cipher string, sd *sshd) (stop func(), err error) {
	_, port, err := net.SplitHostPort(gw.SSHTCP)
	if err != nil {
		return nil, fmt.Errorf("gateway ssh address: %w", err)
	}
	args := append(sshArgs(id, cipher), "-p", port,
		"-R", fmt.Sprintf("%s:22:%s", browserHost, sd.addr), benchUser+"@127.0.0.1")
	p, err := gwproc.Start("ssh -R "+browserHost, os.Environ(), "ssh", args...)
	if err != nil {
		return nil, err
	}
	if _, err := gw.Proc.WaitLine(ctx, forwardPublished, gwproc.StartTimeout); err != nil {
		p.Stop()
		return nil, fmt.Errorf("publish %s:22 with ssh -R: %w: %s", browserHost, err, gwproc.Tail(p.Output()))
	}
	return p.Stop, nil
}
