package feed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The live-state stream keeps only the newest message of each subject, so
// it cannot say what the board was an hour ago. The history stream keeps
// every live event for a while: it sources the live-state stream (JetStream
// copies each message as it is stored, before a newer one of its subject
// replaces it), so agents publish nothing more and a dashboard can replay
// any moment it still holds (ls and watch --at). It grows with
// call-minutes, about 4 KB each (docs/OPERATIONS.md has the sizing), so it
// keeps a day by default, and at most a GiB: whichever comes first.
// Create it yourself for other limits (EnsureHistoryStream keeps an
// existing one).
const (
	historyMaxAge   = 24 * time.Hour
	historyMaxBytes = 1 << 30
	historyDesc     = "calltop call events: every live event for a day, to replay the board at a past moment"
)

// HistoryStream is the JetStream stream of every live event, kept for
// time travel: "CALLTOP_HISTORY".
func (s Subjects) HistoryStream() string { return s.Stream() + "_HISTORY" }

// EnsureHistoryStream creates the history stream, sourcing the live-state
// stream, if it does not exist; an existing one is left as it is. Agents
// make it when they make the live-state stream.
func (c *Client) EnsureHistoryStream(ctx context.Context) (jetstream.Stream, error) {
	return c.ensureStream(ctx, jetstream.StreamConfig{
		Name:        c.Subjects.HistoryStream(),
		Description: historyDesc,
		Sources:     []*jetstream.StreamSource{{Name: c.Subjects.Stream()}},
		Storage:     jetstream.FileStorage,
		MaxAge:      historyMaxAge,
		MaxBytes:    historyMaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  liveDuplicates,
		Replicas:    c.replicas(),
		AllowDirect: true,
	})
}

// ErrNoHistory: the history stream does not exist, or holds nothing of
// the moment asked for.
var ErrNoHistory = errors.New("no history")

// Moment is the board as it was at At, replayed from the history stream.
type Moment struct {
	At time.Time
	// Events are the events stored in the MaxCallLife before At, oldest
	// first: folded into a Board, they give every call live at At with
	// its usage then, the calls that ended shortly before, the agents'
	// states and the user signals.
	Events []Event
	// Since is when the history holds events from: the history began
	// (or was cut by its limits) within MaxCallLife before At when it is
	// after At.Add(-MaxCallLife), and calls that started before may show
	// without their start.
	Since time.Time
	// Skipped counts stored messages that were not valid events.
	Skipped int
}

// Partial reports whether the history began less than MaxCallLife before
// At: a call live at At may have started before the history holds.
func (m *Moment) Partial() bool { return m.Since.After(m.At.Add(-MaxCallLife)) }

// Board folds the moment into a Board that keeps ended calls for retain
// (DefaultRetain if zero), pruned as of At.
func (m *Moment) Board(retain time.Duration) *Board {
	b := NewBoard(retain)
	for _, e := range m.Events {
		b.Apply(e)
	}
	b.Prune(m.At)
	return b
}

// MomentAt reads the history stream up to at (by the time NATS stored each
// event) from MaxCallLife before it, the longest a call runs, with an
// ordered consumer. It fails with ErrNoHistory when the stream is missing
// or began after at.
func (c *Client) MomentAt(ctx context.Context, at time.Time) (*Moment, error) {
	js, err := jetstream.New(c.NC)
	if err != nil {
		return nil, err
	}
	name := c.Subjects.HistoryStream()
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: no stream %s (agents of this version make it; is --prefix right?)", ErrNoHistory, name)
	}
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 || st.FirstTime.After(at) {
		since := "holds nothing yet"
		if st.Msgs > 0 {
			since = "begins at " + st.FirstTime.UTC().Format(time.RFC3339)
		}
		return nil, fmt.Errorf("%w at %s: %s %s (it keeps %s)", ErrNoHistory, at.UTC().Format(time.RFC3339), name, since,
			s.CachedInfo().Config.MaxAge)
	}
	from := at.Add(-MaxCallLife)
	m := &Moment{At: at, Since: st.FirstTime}
	if from.After(m.Since) {
		m.Since = from
	}
	if st.LastTime.Before(from) {
		return m, nil // nothing stored in the window: an empty board
	}
	cons, err := js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{c.Subjects.Live()},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &from,
	})
	if err != nil {
		return nil, fmt.Errorf("history: ordered consumer: %w", err)
	}
	// The callbacks run one at a time; the lock orders them with this
	// goroutine, which reads m once done is closed.
	var mu sync.Mutex
	over := false
	done := make(chan struct{})
	stop := func() {
		over = true
		close(done)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if over {
			return
		}
		md, err := msg.Metadata()
		if err != nil {
			return
		}
		if md.Timestamp.After(at) {
			stop()
			return
		}
		if e, err := c.Subjects.DecodeMsg(msg.Subject(), msg.Data()); err == nil {
			m.Events = append(m.Events, e)
		} else {
			m.Skipped++
		}
		if md.NumPending == 0 || md.Sequence.Stream >= st.LastSeq {
			stop()
		}
	}, jetstream.PullMaxMessages(4096))
	if err != nil {
		return nil, fmt.Errorf("history: consume: %w", err)
	}
	defer cc.Stop()
	select {
	case <-done:
		return m, nil
	case <-ctx.Done():
		mu.Lock()
		over = true
		n := len(m.Events)
		mu.Unlock()
		return nil, fmt.Errorf("history: read up to %s: %w (read %d events)", at.UTC().Format(time.RFC3339), ctx.Err(), n)
	}
}
