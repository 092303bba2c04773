package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Figure names, as they appear in the table and the JSON.
const (
	figBulk       = "bulk MB/s, 1 stream"
	figBack       = "bulk MB/s, 1 stream back (target to load generator)"
	figP50        = "RTT p50 µs, 1-byte ping-pong"
	figP99        = "RTT p99 µs, 1-byte ping-pong"
	figConns      = "new conns/s (1 KiB echo, 8 at a time)"
	figParallel   = "aggregate MB/s, 100 streams"
	figIdleRSS    = "RSS KiB per idle tube"
	figIdleGo     = "goroutines per idle tube"
	figWasmBytes  = "browser: wasm bytes on the wire"
	figPageLoad   = "browser: page load to shell prompt, ms"
	figBrowserMBs = "browser: MB/s through a page -L"
)

// Targets from issue 5.
const (
	targetBulkRatio    = 1.0     // × ssh -L MB/s, same cipher, over WebSocket
	targetLatencyRatio = 1.2     // × ssh -L added latency
	targetConns        = 10000.0 // new tunnelled conns/s
	targetIdleKiB      = 32.0    // RSS per idle tube
)

// The main Wasm module's brotli'd size: issue 10's bound, and the size
// before it (which SFTP, a second module, does not add to).
const (
	targetWasmMiB   = 1.5
	baselineWasmMiB = 1.53
)

// Row is one figure of one path.
type Row struct {
	Figure string `json:"figure"`
	Path   string `json:"path"`
	PathID string `json:"path_id"`
	Cipher string `json:"cipher,omitempty"`
	// Value is nil for a figure not measured yet (see Note).
	Value *float64 `json:"value"`
	// VsLoopback is Value ÷ loopback TCP's value.
	VsLoopback *float64 `json:"vs_loopback,omitempty"`
	// VsOpenSSH is Value ÷ ssh -L's with the same cipher; for latency it is
	// the ratio of added latency (each minus loopback).
	VsOpenSSH *float64 `json:"vs_openssh,omitempty"`
	// Target is the target for this figure and whether it is met.
	Target string `json:"target,omitempty"`
	Note   string `json:"note,omitempty"`
}

// Machine describes where the figures came from.
type Machine struct {
	CPUs    int    `json:"cpus"`
	CPU     string `json:"cpu"`
	Go      string `json:"go"`
	OpenSSH string `json:"openssh"`
	When    string `json:"when"`
}

// Report is one run's figures.
type Report struct {
	Machine Machine `json:"machine"`
	Config  Config  `json:"config"`
	Rows    []Row   `json:"rows"`
	// CPU is each process's CPU per MB over every path's bulk figure.
	CPU []CPURow `json:"cpu,omitempty"`
	// Scaling is how the figures change with concurrent streams and idle
	// tubes.
	Scaling *Scaling `json:"scaling,omitempty"`
	// Goals are issue 15's goals beside their baselines.
	Goals []Goal `json:"goals,omitempty"`
	// Failures are the figures that failed, each naming the figure, the
	// path and the error; their rows have no value.
	Failures []string `json:"failures,omitempty"`
}

func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), When: time.Now().UTC().Format(time.RFC3339)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.Command("ssh", "-V").CombinedOutput(); err == nil {
		m.OpenSSH = strings.TrimSpace(string(out))
	}
	return m
}

func ptr(v float64) *float64 { return &v }

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// addPaths adds the throughput, latency and rate rows of every path, with
// their ratios to loopback and to ssh -L with the same cipher.
func (r *Report) addPaths(cfg Config, paths []path, res map[string]measures) {
	loop, haveLoop := res["loopback"]
	openssh := map[string]measures{}
	for _, p := range paths {
		if p.Kind == "openssh" {
			openssh[p.Cipher] = res[p.ID]
		}
	}
	type figure struct {
		name  string
		key   string
		value func(measures) float64
		lower bool // lower is better (latency)
	}
	figs := []figure{
		{figBulk, "bulk", func(m measures) float64 { return m.bulk }, false},
		{figBack, "back", func(m measures) float64 { return m.back }, false},
		{figP50, "rtt", func(m measures) float64 { return float64(m.rtt.p50.Nanoseconds()) / 1e3 }, true},
		{figP99, "rtt", func(m measures) float64 { return float64(m.rtt.p99.Nanoseconds()) / 1e3 }, true},
		{figConns, "conns", func(m measures) float64 { return m.conns }, false},
		{figParallel, "parallel", func(m measures) float64 { return m.parallel }, false},
	}
	for _, f := range figs {
		if !cfg.wants(f.key) {
			continue
		}
		// A failed baseline gives no ratios.
		l, lok := f.value(loop), haveLoop && loop.failed[f.key] == nil
		for _, p := range paths {
			m := res[p.ID]
			if err := m.failed[f.key]; err != nil {
				r.Rows = append(r.Rows, Row{Figure: f.name, Path: p.Name, PathID: p.ID, Cipher: p.Cipher, Note: "failed: " + err.Error()})
				continue
			}
			v := f.value(m)
			row := Row{Figure: f.name, Path: p.Name, PathID: p.ID, Cipher: p.Cipher, Value: ptr(v)}
			if lok && p.Kind != "loopback" && l > 0 {
				row.VsLoopback = ptr(v / l)
			}
			if o, ok := openssh[p.Cipher]; ok && p.Kind == "gateway" && o.failed[f.key] == nil {
				ov := f.value(o)
				if f.lower && lok {
					if ov-l > 0 {
						row.VsOpenSSH = ptr((v - l) / (ov - l))
					}
				} else if !f.lower && ov > 0 {
					row.VsOpenSSH = ptr(v / ov)
				}
			}
			if p.Kind == "gateway" {
				row.Target = target(f.name, p, row)
			}
			r.Rows = append(r.Rows, row)
		}
	}
}

func target(fig string, p path, row Row) string {
	switch fig {
	case figBulk:
		if !strings.Contains(p.ID, transportWS) || row.VsOpenSSH == nil {
			return ""
		}
		return fmt.Sprintf("≥%.1f× ssh -L: %s", targetBulkRatio, mark(*row.VsOpenSSH >= targetBulkRatio))
	case figP50, figP99:
		if row.VsOpenSSH == nil {
			return ""
		}
		return fmt.Sprintf("≤%.1f× added: %s", targetLatencyRatio, mark(*row.VsOpenSSH <= targetLatencyRatio))
	case figConns:
		return fmt.Sprintf("≥%.0f/s: %s", targetConns, mark(*row.Value >= targetConns))
	}
	return ""
}

// addIdle adds the memory rows of idle tubes over one transport.
func (r *Report) addIdle(transport string, ir idleResult) {
	name := fmt.Sprintf("gateway %s, %d tubes × one -R each", trName(transport), ir.n)
	if ir.ports < ir.n {
		name = fmt.Sprintf("gateway %s, %d tubes × one -R each (%d ports, %d virtual names)", trName(transport), ir.n, ir.ports, ir.n-ir.ports)
	}
	pid := "idle-" + transport
	note := fmt.Sprintf("RSS %d → %d KiB; per tube %.1f KiB Go heap in use, %.1f KiB stacks; opened in %v",
		ir.baseRSSKiB, ir.rssKiB, ir.heapPerTubeKiB, ir.stackPerTubeKiB, ir.openTime.Round(time.Millisecond))
	r.Rows = append(r.Rows,
		Row{Figure: figIdleRSS, Path: name, PathID: pid, Value: ptr(ir.rssPerTubeKiB),
			Target: fmt.Sprintf("≤%.0f KiB: %s", targetIdleKiB, mark(ir.rssPerTubeKiB <= targetIdleKiB)), Note: note},
		Row{Figure: figIdleGo, Path: name, PathID: pid, Value: ptr(ir.goroutinesPerTube)},
	)
}

// addIdleFailed adds the memory rows of idle tubes that failed.
func (r *Report) addIdleFailed(transport string, n int, err error) {
	name := fmt.Sprintf("gateway %s, %d tubes × one -R each", trName(transport), n)
	for _, f := range []string{figIdleRSS, figIdleGo} {
		r.Rows = append(r.Rows, Row{Figure: f, Path: name, PathID: "idle-" + transport, Note: "failed: " + err.Error()})
	}
}

// Markdown renders the report as one table with a line about the machine.
func (r *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %d CPUs, %s, %s, %s. Each figure ran %v.\n\n",
		r.Machine.CPUs, r.Machine.CPU, r.Machine.Go, r.Machine.OpenSSH, r.Config.Duration)
	b.WriteString("| figure | path | cipher | value | × loopback TCP | × ssh -L, same cipher | target |\n")
	b.WriteString("|---|---|---|--:|--:|--:|---|\n")
	for _, row := range r.Rows {
		val := row.Note
		if row.Value != nil {
			val = formatValue(*row.Value)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n",
			row.Figure, row.Path, shortCipher(row.Cipher), val, ratio(row.VsLoopback), ratio(row.VsOpenSSH), row.Target)
	}
	b.WriteString("\nLatency ratios against ssh -L compare added latency (each path's RTT minus loopback's).\n")
	for _, row := range r.Rows {
		if row.Value != nil && row.Note != "" {
			fmt.Fprintf(&b, "%s, %s: %s.\n", row.Figure, row.Path, row.Note)
		}
	}
	r.markdownCPU(&b)
	r.markdownScaling(&b)
	if len(r.Failures) > 0 {
		fmt.Fprintf(&b, "\n%d figures failed:\n", len(r.Failures))
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	return b.String()
}

func formatValue(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// ratio renders a ratio with two decimals, or two significant digits
// when it is below 0.1 (a page -L against loopback).
func ratio(p *float64) string {
	switch {
	case p == nil:
		return ""
	case *p > 0 && *p < 0.1:
		return fmt.Sprintf("%.2g×", *p)
	default:
		return fmt.Sprintf("%.2f×", *p)
	}
}
