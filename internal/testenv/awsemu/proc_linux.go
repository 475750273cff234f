package awsemu

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the emulator when the test binary
// dies without calling Stop (a panic, a timeout, go test -failfast).
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
