package tui

import (
	"context"
	"errors"
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

// drainer is implemented by a Source that can hand over what is waiting
// without blocking, as *feed.Watcher does with TryNext. The dashboard uses
// it to gather a whole frame's events into one batch.
type drainer interface {
	TryNext() []feed.Event
}

// maxFrameEvents bounds one batch, so a flood (a replay of a busy stream)
// is folded over several frames and keys stay responsive.
const maxFrameEvents = 1 << 16

// terminateTimeout bounds one hang-up request: long enough for the agent to
// call OpenAI's hangup endpoint, short enough that an operator learns soon
// that nobody answered.
const terminateTimeout = 10 * time.Second

// retryDelay is how long the dashboard waits before asking the Source again
// after Next failed, so a broken feed does not spin.
const retryDelay = time.Second

// eventsMsg carries one batch from the Source into Update.
type eventsMsg struct {
	events []feed.Event
	err    error
	// replaying is set while the Source is still delivering its stored
	// snapshot (see readier).
	replaying bool
	// at is when the batch was handed over (wall clock), to pace the next.
	at time.Time
}

// readier is implemented by a Source that can tell when its replay of
// stored events is over, as *feed.Watcher does with Ready. The dashboard
// uses it to put the first selection on the top row of the complete
// snapshot rather than on whichever call the replay delivered first.
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

// staler is implemented by a Source that can tell when it cannot read
// (NATS down, the stream unreachable, a subscription being remade), as
// *feed.Watcher does with Stale: the connection may look fine meanwhile.
// The dashboard then says that what it shows may be behind.
type staler interface {
	Stale() (since time.Time, reason string, ok bool)
}

// retryMsg asks Update to call Source.Next again after an error.
type retryMsg struct{}

// terminateDoneMsg reports how a hang-up request went.
type terminateDoneMsg struct {
	callID string
	reply  feed.TerminateReply
	err    error
}

// waitEvents is the re-arming command of the bubbletea realtime pattern,
// with frame pacing: it blocks in Next on one of Bubble Tea's goroutines;
// once events come it waits out the rest of the frame that began with the
// previous batch (last), gathers everything that arrived meanwhile, and
// hands it over as one message. Update re-arms it, so at most one is in
// flight: however fast events come, the model sees at most one batch per
// frame, and each batch costs one Update and one View. The goroutine never
// touches the model.
func waitEvents(ctx context.Context, src Source, frame time.Duration, last time.Time) tea.Cmd {
	return func() tea.Msg {
		evs, err := src.Next(ctx)
		if err != nil {
			return eventsMsg{err: err, at: time.Now()}
		}
		if wait := frame - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if d, ok := src.(drainer); ok {
			for len(evs) < maxFrameEvents {
				more := d.TryNext()
				if len(more) == 0 {
					break
				}
				evs = append(evs, more...)
			}
		}
		return eventsMsg{events: evs, replaying: replaying(src), at: time.Now()}
	}
}

// retryLater re-arms waitEvents after retryDelay.
func retryLater() tea.Cmd {
	return tea.Tick(retryDelay, func(time.Time) tea.Msg { return retryMsg{} })
}

// errReadOnly is what a terminate gets from a read-only dashboard.
var errReadOnly = errors.New("read-only dashboard: hanging up is disabled")

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
// the Board, samples the sparkline and refreshes the NATS state.
type tickMsg time.Time

// tick schedules the next heartbeat.
func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// ReadOnlySource wraps a Source so that Terminate always fails: the
// guarantee behind --readonly holds even if a key or a bug asks.
func ReadOnlySource(src Source) Source { return readOnly{src} }

type readOnly struct{ Source }

func (r readOnly) Terminate(context.Context, feed.TerminateRequest) (feed.TerminateReply, error) {
	return feed.TerminateReply{}, errReadOnly
}

// TryNext, Ready and Stale pass through, so the wrapper keeps batching,
// the replay signal and the stale warning.
func (r readOnly) TryNext() []feed.Event {
	if d, ok := r.Source.(drainer); ok {
		return d.TryNext()
	}
	return nil
}

func (r readOnly) Ready() <-chan struct{} {
	if rd, ok := r.Source.(readier); ok {
		return rd.Ready()
	}
	closed := make(chan struct{})
	close(closed)
	return closed
}

// ReadAudit passes through too: a read-only dashboard reads the trail.
func (r readOnly) ReadAudit(ctx context.Context, q feed.AuditQuery) ([]feed.AuditRecord, error) {
	if a, ok := r.Source.(auditReader); ok {
		return a.ReadAudit(ctx, q)
	}
	return nil, errNoAudit
}

func (r readOnly) Stale() (time.Time, string, bool) {
	if s, ok := r.Source.(staler); ok {
		return s.Stale()
	}
	return time.Time{}, "", false
}
