package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tmuxScreen runs a command in a real terminal, a detached tmux session
// on a server of its own, and reads its screen through a tmux control-mode
// client: one long-lived process answering capture-pane over a pipe, so a
// read costs a fraction of a millisecond instead of a fork and exec, and
// the screen can be polled finely enough to time what appears on it.
type tmuxScreen struct {
	socket string
	ctl    *exec.Cmd
	in     io.WriteCloser
	blocks chan []string // one per command: its output lines, or nil for %error
}

// startTmux runs command (a shell command line) in a cols×rows terminal.
// It skips the test or benchmark when tmux is not installed.
func startTmux(t testing.TB, cols, rows int, command string) *tmuxScreen {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed")
	}
	s := &tmuxScreen{socket: fmt.Sprintf("calltop-test-%d-%d", os.Getpid(), time.Now().UnixNano()), blocks: make(chan []string, 1)}
	out, err := exec.Command("tmux", "-L", s.socket, "-f", "/dev/null", "new-session", "-d", "-s", "s",
		"-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), command).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	s.ctl = exec.Command("tmux", "-L", s.socket, "-C", "attach", "-t", "s")
	s.in, _ = s.ctl.StdinPipe()
	stdout, _ := s.ctl.StdoutPipe()
	if err := s.ctl.Start(); err != nil {
		t.Fatalf("tmux -C: %v", err)
	}
	t.Cleanup(func() {
		s.in.Close()
		_ = s.ctl.Process.Kill()
		_ = s.ctl.Wait()
	})
	go s.read(stdout)
	// The attach answers with a block of its own, before which tmux has
	// no client to run commands for; then the client stops receiving the
	// pane's output: only the screen matters.
	select {
	case <-s.blocks:
	case <-time.After(5 * time.Second):
		t.Fatal("tmux -C: the attach did not answer")
	}
	if _, err := s.command("refresh-client -f no-output"); err != nil {
		t.Fatalf("tmux -C: %v", err)
	}
	return s
}

// read splits the control client's output into command blocks
// (%begin … %end or %error) and drops notifications (%output, …).
func (s *tmuxScreen) read(r io.Reader) {
	defer close(s.blocks)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var block []string
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case !in && strings.HasPrefix(line, "%begin "):
			in, block = true, nil
		case in && strings.HasPrefix(line, "%end "):
			in = false
			if block == nil {
				block = []string{}
			}
			s.blocks <- block
		case in && strings.HasPrefix(line, "%error "):
			in = false
			s.blocks <- nil
		case in:
			block = append(block, line)
		}
	}
}

// command sends one tmux command and returns its output lines.
func (s *tmuxScreen) command(cmd string) ([]string, error) {
	if _, err := fmt.Fprintln(s.in, cmd); err != nil {
		return nil, err
	}
	select {
	case b, ok := <-s.blocks:
		if !ok {
			return nil, errors.New("tmux control client exited")
		}
		if b == nil {
			return nil, fmt.Errorf("tmux: %s failed", cmd)
		}
		return b, nil
	case <-time.After(5 * time.Second):
		return nil, fmt.Errorf("tmux: no answer to %s", cmd)
	}
}

// screen is what the terminal shows now, one string per row.
func (s *tmuxScreen) screen() ([]string, error) { return s.command("capture-pane -p -t s") }

// shellQuote quotes a word for the shell tmux runs the command with.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
