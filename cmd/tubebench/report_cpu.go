package main

import (
	"fmt"
	"strings"
)

// CPURow is one process's CPU over one path's bulk transfer.
type CPURow struct {
	Path   string `json:"path"`
	PathID string `json:"path_id"`
	Cipher string `json:"cipher,omitempty"`
	// Direction is dirTo for the bulk figure, dirBack for the reversed one.
	Direction string  `json:"direction"`
	Process   string  `json:"process"`
	CoresBusy float64 `json:"cores_busy"`
	MsPerMB   float64 `json:"cpu_ms_per_mb"`
	// VsEncrypting is MsPerMB ÷ that of OpenSSH's encrypting end in the
	// same direction (ssh in ssh -L for the bulk figure, sshd for the
	// reversed one) with the same cipher, in the same run.
	VsEncrypting *float64 `json:"vs_openssh_encrypting,omitempty"`
}

// The directions of a bulk transfer, as CPURow names them.
const (
	dirTo   = "to the target"
	dirBack = "back"
)

// Goal is one of issue 15's goals, beside its baseline, from this run.
type Goal struct {
	Goal     string   `json:"goal"`
	Target   string   `json:"target"`
	Baseline string   `json:"baseline"`
	Value    *float64 `json:"value"`
	Unit     string   `json:"unit"` // "×" for a ratio
	Met      bool     `json:"met"`
	Note     string   `json:"note,omitempty"`
}

// addCPU adds the CPU rows of every path's bulk figure and of the reversed
// one.
func (r *Report) addCPU(paths []path, res map[string]measures) {
	type dir struct {
		name      string
		cpu       func(measures) []procCPU
		encryptor string // OpenSSH's encrypting end in ssh -L
	}
	for _, d := range []dir{
		{dirTo, func(m measures) []procCPU { return m.cpu }, roleSSH},
		{dirBack, func(m measures) []procCPU { return m.cpuBack }, roleSSHD},
	} {
		enc := map[string]float64{} // cipher → the encrypting end's ms per MB in ssh -L
		for _, p := range paths {
			if p.Kind != "openssh" {
				continue
			}
			for _, c := range d.cpu(res[p.ID]) {
				if c.Role == d.encryptor && c.MsPerMB > 0 {
					enc[p.Cipher] = c.MsPerMB
				}
			}
		}
		for _, p := range paths {
			for _, c := range d.cpu(res[p.ID]) {
				row := CPURow{Path: p.Name, PathID: p.ID, Cipher: p.Cipher, Direction: d.name,
					Process: c.Role, CoresBusy: c.CoresBusy, MsPerMB: c.MsPerMB}
				if e, ok := enc[p.Cipher]; ok {
					row.VsEncrypting = ptr(c.MsPerMB / e)
				}
				r.CPU = append(r.CPU, row)
			}
		}
	}
}

// cpuRatio is a process's CPU per MB ÷ OpenSSH's encrypting end's on a
// path, in one direction.
func (r *Report) cpuRatio(pathID, role, direction string) *float64 {
	for _, c := range r.CPU {
		if c.PathID == pathID && c.Process == role && c.Direction == direction {
			return c.VsEncrypting
		}
	}
	return nil
}

// row finds a figure of a path with a value.
func (r *Report) row(figure, pathID string) *Row {
	for i := range r.Rows {
		if r.Rows[i].Figure == figure && r.Rows[i].PathID == pathID && r.Rows[i].Value != nil {
			return &r.Rows[i]
		}
	}
	return nil
}

// addGoals sets issue 15's goals beside their baselines (the issue's
// figures of the code before the work), each met or missed in this run.
func (r *Report) addGoals(cfg Config) {
	add := func(goal, target, baseline, unit string, v *float64, lower bool, limit float64) {
		g := Goal{Goal: goal, Target: target, Baseline: baseline, Unit: unit, Value: v}
		switch {
		case v == nil:
			g.Note = "not measured in this run"
		case lower:
			g.Met = *v <= limit
		default:
			g.Met = *v >= limit
		}
		r.Goals = append(r.Goals, g)
	}
	vsSSHL := func(figure, pathID string) *float64 {
		if row := r.row(figure, pathID); row != nil {
			return row.VsOpenSSH
		}
		return nil
	}
	value := func(figure, pathID string) *float64 {
		if row := r.row(figure, pathID); row != nil {
			return row.Value
		}
		return nil
	}
	for _, c := range cfg.Ciphers {
		s := shortCipher(c)
		ws := "gw-websocket-openssh-" + s
		base := func(aes string) string {
			if c == tunnelCipher {
				return aes
			}
			return "not measured"
		}
		add("gateway CPU/MB ÷ OpenSSH's encrypting end, "+s, "≤1.0×", base("1.35× (1.82 vs 1.35 ms/MB)"), "×",
			r.cpuRatio(ws, roleGateway, dirTo), true, 1.0)
		add("gateway CPU/MB ÷ OpenSSH's encrypting end, back, "+s, "≤1.0×", "not measured", "×",
			r.cpuRatio(ws, roleGateway, dirBack), true, 1.0)
		add("gateway connect CPU/MB ÷ OpenSSH's encrypting end, "+s, "≤0.25×", base("0.91× (1.23 vs 1.35 ms/MB)"), "×",
			r.cpuRatio(ws, roleConnect, dirTo), true, 0.25)
		add("MB/s, ssh -R + gateway connect ÷ ssh -L, "+s, "≥1.0×", base("0.60× (390 vs 653 MB/s)"), "×",
			vsSSHL(figBulk, ws), false, 1.0)
		add("MB/s, Go client over WS ÷ ssh -L, "+s, "≥1.0×", base("0.55×"), "×",
			vsSSHL(figBulk, "gw-websocket-go-"+s), false, 1.0)
		if c == tunnelCipher {
			add("MB/s, gateway tunnel -R ÷ ssh -L, "+s, "≥1.3×", "0.62× (README, median of 3)", "×",
				vsSSHL(figBulk, "gw-websocket-tunnel-"+s), false, 1.3)
		}
	}
	add("new conns/s, 8 at a time (Go client over WS, "+shortCipher(tunnelCipher)+")", "≥10,000/s", "4,200–5,300/s", "/s",
		value(figConns, "gw-websocket-go-"+shortCipher(tunnelCipher)), false, targetConns)
	add("RSS KiB per idle tube over WS", "≤32 KiB", "82 KiB", " KiB", value(figIdleRSS, "idle-"+transportWS), true, targetIdleKiB)
	add("page -L MB/s", "≥50 MB/s", "38–41 MB/s", " MB/s", value(figBrowserMBs, "browser-L"), false, 50)
}

// markdownCPU renders the CPU table and the goals.
func (r *Report) markdownCPU(b *strings.Builder) {
	if len(r.CPU) > 0 {
		b.WriteString("\nCPU per MB of each process over the bulk figures (utime+stime from /proc/PID/stat over the transfer;" +
			" the load generator, the sink and the in-process Go client are not counted). The encrypting end is" +
			" OpenSSH's ssh in ssh -L for bytes to the target, its sshd for bytes back:\n\n")
		b.WriteString("| path | cipher | bytes | process | cores busy | CPU ms per MB | × OpenSSH's encrypting end |\n")
		b.WriteString("|---|---|---|---|--:|--:|--:|\n")
		for _, c := range r.CPU {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %.2f | %.2f | %s |\n",
				c.Path, shortCipher(c.Cipher), c.Direction, c.Process, c.CoresBusy, c.MsPerMB, ratio(c.VsEncrypting))
		}
	}
	if len(r.Goals) > 0 {
		b.WriteString("\nGoals of issue 15, each beside its baseline (before the work) and this run's figure:\n\n")
		b.WriteString("| goal | target | baseline | this run | |\n|---|---|---|--:|---|\n")
		for _, g := range r.Goals {
			v, m := g.Note, ""
			if g.Value != nil {
				v, m = formatValue(*g.Value)+g.Unit, mark(g.Met)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", g.Goal, g.Target, g.Baseline, v, m)
		}
	}
}
