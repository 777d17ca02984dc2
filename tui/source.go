package tui

import (
	"context"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/calltop/calltop/feed"
)

// Source is what the dashboard needs from NATS. A *feed.Watcher and a
// *feed.Client satisfy it together (cmd wires
// struct{ *feed.Watcher; *feed.Client }); keeping it an interface lets the
// dashboard run against any feed, such as a replay.
type Source interface {
	// Next blocks until events are available and returns them as one batch.
	Next(ctx context.Context) ([]feed.Event, error)
	// Terminate asks the owning agent to hang a call up and waits for it.
	Terminate(ctx context.Context, req feed.TerminateRequest) (feed.TerminateReply, error)
	// State is the NATS connection's state, shown in the header.
	State() feed.ConnState
}

// terminateTimeout bounds one hang-up request: long enough for the agent to
// call OpenAI's hangup endpoint, short enough that an operator learns soon
// that nobody answered.
const terminateTimeout = 10 * time.Second

// retryDelay is how long the dashboard waits before asking the Source again
// after Next failed, so a broken feed does not spin.
const retryDelay = time.Second

// eventsMsg carries one batch from Source.Next into Update.
type eventsMsg struct {
	events []feed.Event
	err    error
	// replaying is set while the Source is still delivering its stored
	// snapshot (see readier).
	replaying bool
}

// readier is implemented by a Source that can tell when its replay of
// stored events is over, as *feed.Watcher does with Ready. The dashboard
// uses it to put the first selection on the newest call of the complete
// snapshot rather than on whichever call the replay happened to deliver
// first.
type readier interface {
	Ready() <-chan struct{}
}

// replaying reports whether src is still replaying; a Source that cannot
// tell never is.
func replaying(src Source) bool {
	r, ok := src.(readier)
	if !ok {
		return false
	}
	select {
	case <-r.Ready():
		return false
	default:
		return true
	}
}

// retryMsg asks Update to call Source.Next again after an error.
type retryMsg struct{}

// terminateDoneMsg reports how a hang-up request went.
type terminateDoneMsg struct {
	callID string
	reply  feed.TerminateReply
	err    error
}

// waitEvents is the re-arming command of the bubbletea realtime pattern: it
// blocks in Next on a goroutine of Bubble Tea's and hands the whole batch to
// Update as one message, which re-arms it. Next's goroutine never touches
// the model.
func waitEvents(ctx context.Context, src Source) tea.Cmd {
	return func() tea.Msg {
		evs, err := src.Next(ctx)
		return eventsMsg{events: evs, err: err, replaying: replaying(src)}
	}
}

// retryLater re-arms waitEvents after retryDelay.
func retryLater() tea.Cmd {
	return tea.Tick(retryDelay, func(time.Time) tea.Msg { return retryMsg{} })
}

// terminate sends one hang-up request off the update loop, so a slow agent
// or a NATS outage never freezes the screen.
func terminate(ctx context.Context, src Source, req feed.TerminateRequest) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, terminateTimeout)
		defer cancel()
		rep, err := src.Terminate(ctx, req)
		return terminateDoneMsg{callID: req.CallID, reply: rep, err: err}
	}
}

// tickMsg is the one-second heartbeat: it re-renders ages and rates, prunes
// the Board and refreshes the NATS state.
type tickMsg time.Time

// tick schedules the next heartbeat.
func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}
