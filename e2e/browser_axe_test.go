package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/chromedp/chromedp"
)

// evalAwait evaluates a JS expression, awaits its promise, and decodes the value into v.
func (b *browser) evalAwait(expr string, v any) error {
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[json.RawMessage](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return err
	}
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	return json.Unmarshal(raw, v)
}

// axeViolation is one rule axe-core found broken, with the elements at fault.
type axeViolation struct {
	ID, Impact, Help string
	Nodes            []struct{ Target []any }
}

// axeCheck runs axe-core (from web/node_modules, as npm ci installs it) on the page as it is and
// fails the test on a violation of serious or critical impact.
func axeCheck(b *browser, where string) {
	b.t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "web", "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		b.t.Fatalf("axe-core: %v (make build runs npm ci in web/)", err)
	}
	var ok bool
	if err := b.eval(string(src)+"\n;typeof axe === 'object'", &ok); err != nil || !ok {
		b.t.Fatalf("inject axe-core: %v", err)
	}
	var vs []axeViolation
	if err := b.evalAwait(`axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) =>
		({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target })) })))`, &vs); err != nil {
		b.t.Fatalf("axe.run on %s: %v", where, err)
	}
	var bad []string
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, fmt.Sprintf("%s (%s): %s at %v", v.ID, v.Impact, v.Help, v.Nodes))
		}
	}
	if len(bad) > 0 {
		b.t.Fatalf("axe-core on %s: %d serious or critical violations:\n%s", where, len(bad), strings.Join(bad, "\n"))
	}
	b.t.Logf("axe-core on %s: no serious or critical violations (%d minor)", where, len(vs))
}

// screenshot saves the viewport as docs/screenshots/NAME.png, for the README: the test keeps
// them current.
func screenshot(b *browser, name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
