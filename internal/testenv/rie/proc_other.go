//go:build !linux

package rie

import "os/exec"

type proc struct{ pid int }

// ownGroup does nothing where process groups are not managed here; the
// emulator only runs on Linux anyway.
func ownGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd, _ []proc) { _ = cmd.Process.Kill() }

func children(int) []proc { return nil }
