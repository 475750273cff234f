package rie

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// proc identifies a process: its id and its start time, so that a
// recorded process is never confused with a later one that reuses the id.
type proc struct {
	pid   int
	start string
}

// ownGroup puts the emulator in a process group of its own and makes the
// kernel kill it if its parent dies without stopping it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup kills the emulator's process group and the process groups of
// the runtimes it started (aws-lambda-rie starts the bootstrap in a process
// group of its own), including recorded runtimes the emulator's death
// orphaned.
func killGroup(cmd *exec.Cmd, runtimes []proc) {
	for _, p := range append(children(cmd.Process.Pid), runtimes...) {
		if st, ok := stat(p.pid); ok && st.start == p.start {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL) // its group: the bootstrap's own children
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // it may have exited already
	_ = cmd.Process.Kill()
}

// children lists the processes whose parent is pid, from /proc.
func children(pid int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []proc
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := stat(child); ok && st.ppid == pid {
			out = append(out, proc{pid: child, start: st.start})
		}
	}
	return out
}

type procStat struct {
	ppid  int
	start string
}

// stat reads a process's parent and start time from /proc/PID/stat:
// "pid (comm) state ppid ... starttime ...", where comm may hold spaces
// and parentheses; starttime is the 22nd field (proc(5)).
func stat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	// fields[0] is the state (field 3); starttime is field 22.
	if len(fields) < 20 {
		return procStat{}, false
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return procStat{}, false
	}
	return procStat{ppid: ppid, start: fields[19]}, true
}
