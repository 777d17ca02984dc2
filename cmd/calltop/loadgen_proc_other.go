//go:build !linux

package main

import (
	"errors"
	"syscall"
)

func childAttr() *syscall.SysProcAttr { return nil }

// procSample reads Linux's /proc; elsewhere the summary says agent CPU
// and memory are unknown.
func procSample(pid int) (procStats, error) {
	return procStats{}, errors.New("agent CPU and memory are read from /proc: Linux only")
}
