package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/calltop/calltop/feed"
)

// TestEndedCallLeavesTheTableOnTimeAndTheBoardLater: the row goes at the
// first tick past Retain; the Board keeps the call, unseen, until its next
// prune (boardPruneEvery), and a straggler meanwhile brings nothing back.
func TestEndedCallLeavesTheTableOnTimeAndTheBoardLater(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 128, 24)
	a, b := alice.at(clk.Now().Add(-time.Minute)), bob.at(clk.Now())
	m.Update(events(clk.Now(), a, b))
	tick := func(n time.Duration) { // a tick a second, as the program has
		for range n {
			clk.Add(time.Second)
			m.Update(tickMsg(clk.Now()))
		}
	}
	tick(5) // the Board prunes at the first tick, then every boardPruneEvery
	m.Update(ended(a, feed.ReasonHangup, clk.Now()))
	tick(DefaultRetain/time.Second - 1)
	if s := plain(m); !strings.Contains(s, a.id) {
		t.Fatalf("ended call gone before Retain:\n%s", s)
	}
	tick(2)
	if s := plain(m); strings.Contains(s, a.id) || !strings.Contains(s, "1 live  0 ended") {
		t.Fatalf("ended call still shown after Retain:\n%s", s)
	}
	if _, ok := m.board.Get(a.id); !ok {
		t.Fatal("the Board pruned on the tick right after its last prune: boardPruneEvery does nothing")
	}
	// A late usage event for it (a replay) changes the Board, not the table.
	m.Update(eventsMsg{events: []feed.Event{usageAt(a, 11, clk.Now())}})
	if s := plain(m); strings.Contains(s, a.id) || !strings.Contains(s, "1 live  0 ended") {
		t.Fatalf("a straggler brought the ended call back:\n%s", s)
	}
	tick(boardPruneEvery / time.Second)
	if _, ok := m.board.Get(a.id); ok {
		t.Errorf("the Board still holds the ended call %v after the table let it go", boardPruneEvery)
	}
	if len(m.expired) != 0 {
		t.Errorf("expired keeps %d calls the Board dropped", len(m.expired))
	}
	m.Update(eventsMsg{events: []feed.Event{usageAt(a, 12, clk.Now())}})
	if s := plain(m); strings.Contains(s, a.id) {
		t.Errorf("a straggler after the Board's prune brought the call back:\n%s", s)
	}
}

// TestOrphanPastCapLeavesAtOnce: a live call whose agent never beat and
// whose OpenAI cap passed more than Retain ago is dropped by the Board on
// the next tick, boardPruneEvery or not, and its row with it.
func TestOrphanPastCapLeavesAtOnce(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 120, 24)
	m.Update(tickMsg(clk.Now()))                                             // the Board's first prune: the next is not due
	old := alice.at(clk.Now().Add(-time.Hour - DefaultRetain - time.Minute)) // its session expired an hour in
	m.Update(events(clk.Now(), old, bob.at(clk.Now())))
	if s := plain(m); !strings.Contains(s, "2 live") {
		t.Fatalf("before the tick:\n%s", s)
	}
	clk.Add(time.Second)
	m.Update(tickMsg(clk.Now()))
	if s := plain(m); strings.Contains(s, old.id) || !strings.Contains(s, "1 live") {
		t.Errorf("the orphan past its cap is still shown:\n%s", s)
	}
	if _, ok := m.board.Get(old.id); ok {
		t.Error("the Board still holds the orphan past its cap")
	}
}

// TestAgentThatLeftIsForgottenOnTime: the Board forgets an agent a minute
// after its goodbye (feed.AgentLeftMemory) on the next tick, not up to
// boardPruneEvery later.
func TestAgentThatLeftIsForgottenOnTime(t *testing.T) {
	clk := newClock()
	m, _ := newUnitModel(t, clk, 160, 24)
	beat := func(name string) feed.Event {
		return feed.Event{V: feed.Version, Kind: feed.KindHeartbeat, At: clk.Now(), Agent: name,
			Heartbeat: &feed.Heartbeat{StartedAt: clk.Now().Add(-time.Hour), Instance: name + "-1"}}
	}
	second := 0
	tick := func() { // a tick a second, a heartbeat every five
		clk.Add(time.Second)
		second++
		if second%5 == 0 {
			m.Update(eventsMsg{events: []feed.Event{beat("api-1")}})
		}
		m.Update(tickMsg(clk.Now()))
	}
	m.Update(eventsMsg{events: []feed.Event{beat("api-1"), beat("api-2")}})
	m.Update(tickMsg(clk.Now())) // the Board prunes now, then every boardPruneEvery
	for range 3 {
		tick()
	}
	m.Update(eventsMsg{events: []feed.Event{{V: feed.Version, Kind: feed.KindGoodbye, At: clk.Now(), Agent: "api-2",
		Goodbye: &feed.Goodbye{Instance: "api-2-1"}}}})
	for range feed.AgentLeftMemory / time.Second {
		tick()
	}
	if _, ok := m.board.Agent("api-2"); !ok {
		t.Fatal("the agent was forgotten before AgentLeftMemory")
	}
	tick() // 61 s after the goodbye, 4 s after the Board's last prune by the clock
	if _, ok := m.board.Agent("api-2"); ok {
		t.Errorf("the agent that left %v ago is still on the Board", feed.AgentLeftMemory+time.Second)
	}
	if s := plain(m); !strings.Contains(s, "agents 1/1") {
		t.Errorf("header:\n%s", s)
	}
}
