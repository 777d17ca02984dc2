package tui

import (
	"io"
	"testing"
	"testing/synctest"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// bubble is a dashboard running as a real Bubble Tea program inside a
// testing/synctest bubble, on a memSource: the program's goroutines, the
// commands it starts (feed reads, terminates, ticks) and their timers all
// live in the bubble. After send, synctest.Wait has seen every one of them
// blocked, so whatever the keys were going to cause has happened: a test
// proves that nothing was sent without sleeping for it not to be.
//
// Call it inside synctest.Test; make the memSource there too (a bubble
// goroutine blocked on a channel from outside is never idle).
type bubble struct {
	t    *testing.T
	p    *tea.Program
	done chan tea.Model
}

// settleFor is fake time let pass after each send: more than a frame, so
// a batch waiting out its frame (waitEvents) is delivered too. Fake time
// costs nothing, and the dashboard's own clock is the test's.
const settleFor = 100 * time.Millisecond

func runBubble(t *testing.T, src *memSource, opts Options, w, h int) *bubble {
	t.Helper()
	m := New(src, opts)
	b := &bubble{t: t, done: make(chan tea.Model, 1)}
	b.p = tea.NewProgram(probe{m: m}, tea.WithInput(nil), tea.WithOutput(io.Discard),
		tea.WithoutSignals(), tea.WithoutSignalHandler(), tea.WithWindowSize(w, h),
		tea.WithColorProfile(colorprofile.NoTTY))
	go func() {
		fm, err := b.p.Run()
		if err != nil {
			t.Errorf("program: %v", err)
		}
		b.done <- fm
	}()
	b.settle()
	return b
}

// settle waits until every goroutine of the program is blocked, lets a
// frame of fake time pass and waits again.
func (b *bubble) settle() {
	synctest.Wait()
	time.Sleep(settleFor)
	synctest.Wait()
}

// send delivers msgs in order, then settles.
func (b *bubble) send(msgs ...tea.Msg) {
	for _, msg := range msgs {
		b.p.Send(msg)
	}
	b.settle()
}

// keys sends key presses by name (see keyMsg).
func (b *bubble) keys(names ...string) {
	msgs := make([]tea.Msg, len(names))
	for i, n := range names {
		msgs[i] = keyMsg(n)
	}
	b.send(msgs...)
}

// screen is what the dashboard shows now, without escape codes.
func (b *bubble) screen() string {
	ch := make(snapMsg, 1)
	b.p.Send(ch)
	return <-ch
}

// quit ends the program with ctrl+c and returns the final model. The
// pending one-second tick is let fire (in fake time), so no goroutine of
// the program outlives the bubble.
func (b *bubble) quit() *Model {
	b.p.Send(keyMsg("ctrl+c"))
	fm := <-b.done
	time.Sleep(2 * time.Second)
	p, ok := fm.(probe)
	if !ok {
		b.t.Fatalf("final model is %T", fm)
	}
	return p.m
}
