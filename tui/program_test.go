package tui

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
)

// lockedBuffer collects a program's output for a test to read meanwhile.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{} }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestNewProgramRunsOnTheGivenTerminal: NewProgram draws on the output and
// at the size it is given, not on the process's terminal, and ends with
// the context its options give it.
func TestNewProgramRunsOnTheGivenTerminal(t *testing.T) {
	clk := newClock()
	src := newMemSource()
	src.send(events(clk.Now(), alice.at(clk.Now())).events...)
	out := newLockedBuffer()
	in, inW := io.Pipe()
	defer inW.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := NewProgram(ctx, src, Options{Now: clk.Now, Where: "nats://127.0.0.1:4222"}, tea.WithContext(ctx),
		tea.WithInput(in), tea.WithOutput(out), tea.WithWindowSize(200, 50),
		tea.WithEnvironment([]string{"TERM=xterm-256color"}), tea.WithColorProfile(colorprofile.Ascii))
	done := make(chan error, 1)
	go func() {
		_, err := p.Run()
		done <- err
	}()
	// IN and OUT are columns of terminals at least 150 wide.
	deadline := time.Now().Add(10 * time.Second)
	for s := ""; !strings.Contains(s, "OUT  TOKENS") || !strings.Contains(s, alice.id[:12]); s = ansi.Strip(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no 200-column table on the output:\n%s", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, tea.ErrProgramKilled) {
			t.Errorf("Run = %v, want killed by its context", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the program outlived its context")
	}
}

// TestReadOnlyWhyIsShown: a read-only dashboard says why when a hang-up
// key is pressed, as its host put it, drawn safely.
func TestReadOnlyWhyIsShown(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 80, 24, func(o *Options) { o.ReadOnly, o.ReadOnlyWhy = true, "viewer key\x1b[2J" })
	m.Update(events(clk.Now(), alice.at(clk.Now())))
	press(m, "x")
	s := plain(m)
	if m.confirm != nil || !strings.Contains(s, "hanging up is disabled (viewer key") || strings.Contains(s, "--readonly") {
		t.Fatalf("status after x:\n%s", s)
	}
	if strings.Contains(m.View().Content, "\x1b[2J") {
		t.Error("the reason reached the screen raw")
	}
}
