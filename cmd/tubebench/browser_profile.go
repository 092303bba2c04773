package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/chromedp/cdproto/cdp"
	cdprof "github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
)

// pageProfileInterval is the page's sampling interval, in µs.
const pageProfileInterval = 100

// profilePage runs fn while Chromium's own sampling profiler records the
// page (JavaScript and the Wasm module's functions, named when the module
// keeps its name section: build it without -s to see Go's names). It saves
// NAME.cpuprofile (open it in DevTools' Performance panel) and
// NAME.top.txt, the functions with the most self time. With no dir it only
// runs fn.
func (c *chromium) profilePage(dir, name string, fn func() error) error {
	if dir == "" {
		return fn()
	}
	err := c.do("start the page's profiler", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, cdprof.Enable, cdp.Empty{}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, cdprof.SetSamplingInterval, cdprof.SetSamplingIntervalParams{Interval: pageProfileInterval}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, cdprof.Start, cdp.Empty{})
		return err
	}))
	if err != nil {
		return err
	}
	ferr := fn()
	var prof *cdprof.Profile
	err = c.do("stop the page's profiler", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		r, err := cdp.Call(ctx, t, cdprof.Stop, cdp.Empty{})
		prof = r.Profile
		return err
	}))
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return err
	}
	raw, err := json.Marshal(prof)
	if err != nil {
		return fmt.Errorf("page profile: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".cpuprofile"), raw, 0o644); err != nil {
		return fmt.Errorf("page profile: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".top.txt"), []byte(topSelf(prof, 40)), 0o644); err != nil {
		return fmt.Errorf("page profile: %w", err)
	}
	return nil
}

// topSelf lists the n functions of p with the most self time (samples on
// top of the stack), with their share of all samples and of the samples
// the page was busy (not idle, not the program's root).
func topSelf(p *cdprof.Profile, n int) string {
	if p == nil {
		return ""
	}
	byID := map[int64]string{}
	for _, nd := range p.Nodes {
		name := "(unknown)"
		if nd.CallFrame != nil {
			name = nd.CallFrame.FunctionName
			if name == "" {
				name = "(anonymous) " + filepath.Base(nd.CallFrame.URL)
			}
		}
		byID[nd.ID] = name
	}
	self := map[string]int{}
	busy := 0
	for _, id := range p.Samples {
		name := byID[id]
		self[name]++
		if name != "(idle)" && name != "(program)" && name != "(garbage collector)" {
			busy++
		}
	}
	names := make([]string, 0, len(self))
	for k := range self {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return self[names[i]] > self[names[j]] })
	var b strings.Builder
	total := len(p.Samples)
	fmt.Fprintf(&b, "%d samples, %d busy (%.1f%%), interval %d µs\n", total, busy, pct(busy, total), pageProfileInterval)
	fmt.Fprintf(&b, "%8s %7s  %s\n", "samples", "% all", "function (self)")
	for i, k := range names {
		if i == n {
			break
		}
		fmt.Fprintf(&b, "%8d %6.1f%%  %s\n", self[k], pct(self[k], total), k)
	}
	return b.String()
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
