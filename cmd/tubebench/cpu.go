package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Process roles in a path, as the CPU table names them.
const (
	roleGateway = "gateway"
	roleConnect = "gateway connect"
	roleTunnel  = "gateway tunnel"
	roleSSH     = "OpenSSH ssh"
	roleSSHD    = "OpenSSH sshd"
	// roleChromium is headless Chromium with all its processes: the
	// page's renderer runs the Wasm client.
	roleChromium = "Chromium (page)"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procRoot is a process of a path whose CPU time the bulk figure reads:
// the process and all its descendants, each counted under role, except
// descendants whose command name (/proc/PID/comm) is in sub, counted under
// the role sub names (ssh's ProxyCommand, `gateway connect`, is its own
// row).
type procRoot struct {
	role string
	pid  int
	sub  map[string]string
}

// cpuSample is the CPU time (user + system) of each process of a path at
// one moment, by pid, with each pid's role.
type cpuSample struct {
	at    time.Time
	ticks map[int]int64
	role  map[int]string
}

// sampleCPU reads the CPU time of roots and their descendants.
func sampleCPU(roots []procRoot) (cpuSample, error) {
	s := cpuSample{at: time.Now(), ticks: map[int]int64{}, role: map[int]string{}}
	if len(roots) == 0 {
		return s, nil
	}
	stats, err := readAllStats()
	if err != nil {
		return s, err
	}
	children := map[int][]int{}
	for pid, st := range stats {
		children[st.ppid] = append(children[st.ppid], pid)
	}
	var walk func(pid int, role string, sub map[string]string)
	walk = func(pid int, role string, sub map[string]string) {
		st, ok := stats[pid]
		if !ok {
			return
		}
		if r, ok := sub[st.comm]; ok {
			role = r
		}
		s.ticks[pid], s.role[pid] = st.ticks, role
		for _, c := range children[pid] {
			walk(c, role, sub)
		}
	}
	for _, r := range roots {
		if _, ok := stats[r.pid]; !ok {
			return s, fmt.Errorf("cpu time of %s (pid %d): process gone", r.role, r.pid)
		}
		walk(r.pid, r.role, r.sub)
	}
	return s, nil
}

// procStat is what the CPU figures read of /proc/PID/stat.
type procStat struct {
	comm  string
	ppid  int
	ticks int64 // utime + stime
}

// readAllStats reads /proc/PID/stat of every process.
func readAllStats() (map[int]procStat, error) {
	dirs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	out := make(map[int]procStat, len(dirs))
	for _, f := range dirs {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue // gone since the listing
		}
		st, err := parseStat(string(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[pid] = st
	}
	return out, nil
}

// parseStat parses one /proc/PID/stat line: "pid (comm) state ppid ...",
// with utime and stime the 14th and 15th fields.
func parseStat(line string) (procStat, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("no command name in %q", line)
	}
	f := strings.Fields(line[end+1:])
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("%d fields after the command name, want 13 or more", len(f))
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("bad ppid, utime or stime in %q", line)
	}
	return procStat{comm: line[open+1 : end], ppid: ppid, ticks: ut + st}, nil
}

// procCPU is one role's CPU over a transfer.
type procCPU struct {
	Role      string  `json:"process"`
	CoresBusy float64 `json:"cores_busy"`
	MsPerMB   float64 `json:"cpu_ms_per_mb"`
}

// cpuPerMB is each role's CPU time between two samples, per MB moved and
// per second of the window; processes not in both samples are left out.
func cpuPerMB(before, after cpuSample, bytes int64) []procCPU {
	by := map[string]int64{}
	for pid, t1 := range after.ticks {
		if t0, ok := before.ticks[pid]; ok {
			by[after.role[pid]] += t1 - t0
		}
	}
	wall := after.at.Sub(before.at).Seconds()
	mb := float64(bytes) / 1e6
	var out []procCPU
	for role, ticks := range by {
		sec := float64(ticks) / clockTicks
		p := procCPU{Role: role}
		if wall > 0 {
			p.CoresBusy = sec / wall
		}
		if mb > 0 {
			p.MsPerMB = sec * 1e3 / mb
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return roleOrder(out[i].Role) < roleOrder(out[j].Role) })
	return out
}

// roleOrder puts a path's processes in the order the bytes cross them.
func roleOrder(role string) int {
	for i, r := range []string{roleArriving, roleGateway, roleChromium, roleConnect, roleTunnel, roleSSH, roleSSHD} {
		if r == role {
			return i
		}
	}
	return 99
}

// commName is the command name (/proc/PID/comm) of a process running
// the program at path: its base name, cut to 15 bytes.
func commName(path string) string {
	c := filepath.Base(path)
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}
