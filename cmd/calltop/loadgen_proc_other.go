//go:build !linux

package main

import (
	"errors"
	"syscall"
)

// procAvailable says whether procSample works here: it reads Linux's
// /proc, so elsewhere the summary says agent CPU and memory are unknown.
const procAvailable = false

func childAttr() *syscall.SysProcAttr { return nil }

func procSample(pid int) (procStats, error) {
	return procStats{}, errors.New("agent CPU and memory are read from /proc: Linux only")
}
