//go:build !linux

package awsemu

import "os/exec"

// setParentDeathSignal is a no-op where the kernel has no parent-death
// signal; call Stop from TestMain there.
func setParentDeathSignal(*exec.Cmd) {}
