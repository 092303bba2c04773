package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses, as sshd's children have.
	line := "4242 (sshd: root (x)) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 1 0 5 1000 10"
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.comm != "sshd: root (x)" || st.ppid != 17 || st.ticks != 281 {
		t.Errorf("parseStat = %+v, want comm %q, ppid 17, ticks 281", st, "sshd: root (x)")
	}
	if _, err := parseStat("4242 sshd S 1"); err == nil {
		t.Error("a line without a command name parsed")
	}
}

func TestCPUPerMB(t *testing.T) {
	t0 := time.Unix(100, 0)
	before := cpuSample{at: t0, ticks: map[int]int64{1: 100, 2: 50, 3: 7},
		role: map[int]string{1: roleSSH, 2: roleConnect, 3: roleSSH}}
	after := cpuSample{at: t0.Add(2 * time.Second), ticks: map[int]int64{1: 200, 2: 100, 4: 900},
		role: map[int]string{1: roleSSH, 2: roleConnect, 4: roleSSH}}
	got := cpuPerMB(before, after, 500e6) // 1 s of ssh, 0.5 s of connect over 500 MB in 2 s
	want := []procCPU{{Role: roleConnect, CoresBusy: 0.25, MsPerMB: 1}, {Role: roleSSH, CoresBusy: 0.5, MsPerMB: 2}}
	if len(got) != len(want) {
		t.Fatalf("cpuPerMB = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("cpuPerMB[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestSampleCPU counts a child under its parent's role, and a child whose
// command name is in sub under the role sub gives it.
func TestSampleCPU(t *testing.T) {
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	s, err := sampleCPU([]procRoot{{role: roleSSH, pid: os.Getpid(), sub: map[string]string{"sleep": roleConnect}}})
	if err != nil {
		t.Fatal(err)
	}
	if s.role[os.Getpid()] != roleSSH || s.role[sleep.Process.Pid] != roleConnect {
		t.Errorf("roles = %v, want this process %q and its sleep %q", s.role, roleSSH, roleConnect)
	}
	if _, err := sampleCPU([]procRoot{{role: roleGateway, pid: 1 << 30}}); err == nil {
		t.Error("a missing process gave no error")
	}
}
