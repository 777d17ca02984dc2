package realtimetest

import (
	"sync"
	"testing"
	"time"
)

// emitLog records what Options.OnEmit reports.
type emitLog struct {
	mu  sync.Mutex
	evs []emitted
}

type emitted struct {
	call, typ string
	at        time.Time
}

func (l *emitLog) record(call, typ string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, emitted{call, typ, at})
}

func (l *emitLog) of(call string) []emitted {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []emitted
	for _, e := range l.evs {
		if e.call == call {
			out = append(out, e)
		}
	}
	return out
}

func countType(evs []emitted, typ string) int {
	n := 0
	for _, e := range evs {
		if e.typ == typ {
			n++
		}
	}
	return n
}

// TestOnEmitReportsWhatIsOnTheWire: OnEmit names every event a client
// reads, in the order it reads them, each with a time before the client
// had it, and reports as many response.done as Emitted counts.
func TestOnEmitReportsWhatIsOnTheWire(t *testing.T) {
	var log emitLog
	s := newTestServer(t, Options{OnEmit: log.record})
	id := s.NewCall(Script{Turns: 3, TurnGap: 5 * time.Millisecond, EndAfterTurns: true})
	c, _, err := dial(s, id, authHeader(s.APIKey()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	send(t, c, `{"type":"session.update","session":{"type":"realtime"}}`)
	type read struct {
		typ string
		at  time.Time
	}
	var got []read
	for {
		ev, err := readEvent(c, 10*time.Second)
		if err != nil {
			break // the call ended after its turns: the sideband closed
		}
		got = append(got, read{ev.Type, time.Now()})
	}
	reported := log.of(id)
	if len(reported) != len(got) {
		t.Fatalf("OnEmit reported %d events, the client read %d", len(reported), len(got))
	}
	for i, r := range reported {
		if r.typ != got[i].typ {
			t.Fatalf("event %d: OnEmit says %s, the client read %s", i, r.typ, got[i].typ)
		}
		if r.at.After(got[i].at) {
			t.Errorf("event %d (%s): reported sent at %s, after the client read it at %s", i, r.typ, r.at, got[i].at)
		}
		if i > 0 && r.at.Before(reported[i-1].at) {
			t.Errorf("event %d (%s): sent before the event ahead of it", i, r.typ)
		}
	}
	if n, want := countType(reported, "response.done"), s.Emitted(id).Responses; n != want || n != 3 {
		t.Errorf("response.done reported %d times; Emitted counts %d, the script plays 3", n, want)
	}
	if got[0].typ != "session.updated" {
		t.Errorf("first event %s, want session.updated", got[0].typ)
	}
}

// TestOnEmitSkipsLostEvents: events sent while no sideband is attached
// never reached anyone, so OnEmit does not report them, exactly as
// Emitted does not count them.
func TestOnEmitSkipsLostEvents(t *testing.T) {
	var log emitLog
	s := newTestServer(t, Options{OnEmit: log.record})
	id := s.NewCall(Script{Turns: 3, TurnGap: 15 * time.Millisecond, EndAfterTurns: true})
	c := attach(t, s, id)
	configure(t, c)
	readUntil(t, c, "response.done")
	s.DropSideband(id)
	deadline := time.Now().Add(20 * time.Second)
	for s.liveCall(id) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the call did not end after its 3 turns")
		}
		time.Sleep(10 * time.Millisecond)
	}
	n, want := countType(log.of(id), "response.done"), s.Emitted(id).Responses
	if n != want {
		t.Errorf("response.done reported %d times, Emitted counts %d", n, want)
	}
	if n < 1 || n >= 3 {
		t.Errorf("response.done reported %d times: want the one read before the drop (and none of the 3rd turn, played with nothing attached)", n)
	}
}
