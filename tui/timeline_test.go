package tui

import (
	"testing"
	"time"
	"unsafe"

	"github.com/calltop/calltop/feed"
)

// TestTimelineKeepsTheLastMoments: the compact ring gives back the last
// timelineLen events as they were (times to the nanosecond, zero and far
// ones included), oldest first, with kinds that are the feed's constants
// rather than the decoder's copies.
func TestTimelineKeepsTheLastMoments(t *testing.T) {
	var tl timeline
	times := []time.Time{{}, time.Date(1500, 3, 4, 5, 6, 7, 8, time.UTC), time.Date(3000, 1, 1, 0, 0, 0, 1, time.FixedZone("x", 3600))}
	var added []feed.Event
	for i := range timelineLen + 5 {
		at := t0.Add(time.Duration(i)*time.Second + time.Duration(i)*time.Nanosecond)
		if i < len(times) {
			at = times[i]
		}
		kind := feed.Kind(string([]byte("usage"))) // as decoded: not the constant's bytes
		e := feed.Event{Kind: kind, Seq: uint64(i), At: at, Usage: &feed.Usage{CostUSD: float64(i), Tokens: feed.Tokens{Total: int64(i)}}}
		if i%4 == 0 {
			e = feed.Event{Kind: feed.KindFlag, Seq: uint64(i), At: at, Flag: &feed.Flag{Kind: feed.FlagBurnRate, Message: "hot"}}
		}
		tl.add(&e)
		added = append(added, e)
	}
	got := tl.list()
	want := added[len(added)-timelineLen:]
	if len(got) != timelineLen {
		t.Fatalf("%d moments, want %d", len(got), timelineLen)
	}
	for i, mo := range got {
		e := want[i]
		if !mo.at.Equal(e.At) || mo.seq != e.Seq || mo.kind != e.Kind || mo.note != momentNote(&e) {
			t.Errorf("moment %d = %+v, want the event %+v", i, mo, e)
		}
		if e.Usage != nil && (mo.cost != e.Usage.CostUSD || mo.tokens != e.Usage.Tokens.Total) {
			t.Errorf("moment %d: cost %v tokens %d", i, mo.cost, mo.tokens)
		}
		if mo.kind == feed.KindUsage && unsafe.StringData(string(mo.kind)) != unsafe.StringData(string(feed.KindUsage)) {
			t.Errorf("moment %d keeps the decoder's copy of its kind", i)
		}
	}
	var early timeline
	for _, at := range times {
		early.add(&feed.Event{Kind: feed.KindSession, At: at, Session: &feed.Session{}})
	}
	early.add(&feed.Event{Kind: "future-kind", At: t0}) // from a Source newer than this dashboard
	for i, mo := range early.list() {
		if i == len(times) {
			if mo.kind != "future-kind" {
				t.Errorf("an unknown kind came back as %q", mo.kind)
			}
			continue
		}
		if !mo.at.Equal(times[i]) || mo.at.IsZero() != times[i].IsZero() || mo.kind != feed.KindSession {
			t.Errorf("time %v came back as %v (%s)", times[i], mo.at, mo.kind)
		}
	}
}

// TestMeterCacheFollowsForget: a row's cached ring is not written after
// forget dropped it; the user's spend goes to its new ring.
func TestMeterCacheFollowsForget(t *testing.T) {
	m := newMeter()
	now := t0.Add(time.Hour)
	var um userMeter
	c := feed.Call{ID: "a", User: "u", State: feed.StateLive, StartedAt: now.Add(-time.Minute), Usage: feed.Usage{CostUSD: 1}}
	m.observeRow(&feed.Call{}, false, &c, now, &um)
	if um.ring == nil || um.ring != m.users["u"] {
		t.Fatal("the row did not cache its user's ring")
	}
	stale := um.ring
	later := now.Add(2 * time.Hour)
	m.forget(later, func(string) bool { return false })
	old := c
	c.Usage.CostUSD = 3
	m.observeRow(&old, true, &c, later, &um)
	if s5, _ := m.userSpend("u", later); !near(s5, 2) {
		t.Errorf("spend after forget = %v, want the $2 since", s5)
	}
	if um.ring == stale || um.ring != m.users["u"] {
		t.Error("the row kept writing to the ring forget dropped")
	}
	other := c
	other.User = "w" // the Board learnt the user late
	m.observeRow(&c, true, &other, later, &um)
	if um.user != "w" || um.ring != m.users["w"] {
		t.Error("the cache followed the old user")
	}
}
