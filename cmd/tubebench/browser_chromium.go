package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tubegate/tubegate/internal/gwproc"
	"github.com/tubegate/tubegate/internal/throwaway"
)

// browserStep bounds one step in the browser: a page load, a login, one
// run to a shell prompt, adding a forward.
const browserStep = 30 * time.Second

// chromiumPath finds Debian's chromium: --chromium if given, else on PATH,
// else /usr/bin/chromium. A missing chromium is an error, never a skip.
func chromiumPath(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	return "", errors.New("chromium not found: install Debian's chromium (make deps does), or skip the browser figures with --browser-runs=0")
}

// chromium is a headless Chromium with a fresh profile, driven over the
// DevTools protocol, with one tab.
type chromium struct {
	ctx   context.Context // the tab's
	pid   int             // the browser's process, parent of the others
	close func()          // kills the browser and waits for it
}

// startChromium starts Chromium with a fresh user-data-dir under dir.
func startChromium(ctx context.Context, execPath, dir string) (*chromium, error) {
	profile, err := os.MkdirTemp(dir, "chromium")
	if err != nil {
		return nil, fmt.Errorf("chromium profile dir: %w", err)
	}
	opts := throwaway.ChromiumOptions(execPath, profile)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	c := &chromium{ctx: tab, close: func() { cancelTab(); cancelAlloc() }}
	// The first Do starts the browser and must not carry a timeout (that
	// would bound the browser's life), so it is bounded from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(tab) }()
	select {
	case err := <-started:
		if err != nil {
			c.close()
			return nil, fmt.Errorf("start chromium %s: %w", execPath, err)
		}
		if b := chromedp.FromContext(tab).Browser; b != nil && b.Process() != nil {
			c.pid = b.Process().Pid
		}
	case <-time.After(gwproc.StartTimeout):
		c.close()
		return nil, fmt.Errorf("chromium %s did not start within %v", execPath, gwproc.StartTimeout)
	}
	return c, nil
}

// do runs actions on the tab, bounded by browserStep.
func (c *chromium) do(what string, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(c.ctx, browserStep)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// eval evaluates a JS expression in the page, awaiting it if it is a
// promise, and decodes its JSON value into v (nil: ignored).
func (c *chromium) eval(what, expr string, v any) error {
	ctx, cancel := context.WithTimeout(c.ctx, browserStep)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: decode %s: %w", what, raw, err)
	}
	return nil
}

// quiet turns off the DevTools network domain, which would otherwise send
// an event with the payload of every WebSocket frame to the bench.
func (c *chromium) quiet() error {
	return c.do("turn off network events", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.Disable, cdp.Empty{})
		return err
	}))
}
