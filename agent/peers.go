package agent

import (
	"sync"
	"time"
)

// peerBook is what an agent knows of the other agents of its fleet, from
// their heartbeats and goodbyes, by instance. It judges an agent dead so
// that its calls can be adopted: it said goodbye, or its heartbeats
// stopped for longer than AdoptAfter while this agent was connected the
// whole time (an agent cut off from NATS itself hears nobody, and must
// not think everybody dead).
type peerBook struct {
	self string

	mu       sync.Mutex
	m        map[string]*peer
	reported map[string]bool // dead instances already reported by newlyDead
}

type peer struct {
	name    string
	last    time.Time // when its last heartbeat arrived (our clock)
	left    bool      // it said goodbye
	handoff bool      // and handed its calls over
}

func newPeerBook(self string, now time.Time) *peerBook {
	return &peerBook{self: self, m: make(map[string]*peer), reported: make(map[string]bool)}
}

// note calls fn with the entry of another instance, made (seen alive at
// at) if it is new; under the book's lock. It ignores this agent itself.
func (b *peerBook) note(instance, name string, at time.Time, fn func(p *peer, isNew bool)) {
	if instance == "" || instance == b.self {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.m[instance]
	if !ok {
		p = &peer{name: name, last: at}
		b.m[instance] = p
	}
	fn(p, !ok)
}

// beat notes a heartbeat of instance at now (arrival time: clocks of other
// hosts are not trusted).
func (b *peerBook) beat(instance, name string, now time.Time) {
	b.note(instance, name, now, func(p *peer, _ bool) {
		if !p.left { // else a heartbeat overtaken by the goodbye
			p.name, p.last = name, now
		}
	})
}

// owns notes an instance named as a call's owner, claimed at since: one
// never heard beating (it may have died before this agent started
// listening) is known from then on, alive at since, so its death is
// noticed like any other.
func (b *peerBook) owns(instance, name string, since time.Time) {
	b.note(instance, name, since, func(*peer, bool) {})
}

// goodbye notes that instance stopped cleanly.
func (b *peerBook) goodbye(instance, name string, handoff bool, now time.Time) {
	b.note(instance, name, now, func(p *peer, _ bool) { p.left, p.handoff = true, handoff })
}

// dead reports whether instance is gone as of now: it said goodbye, or it
// has been silent for after while this agent was connected since
// connected (zero: not connected now). An instance never heard of is dead
// only if its record (claimed since) is older than after too: a brand-new
// agent may own a call before its first heartbeat arrives.
func (b *peerBook) dead(instance string, claimed, now, connected time.Time, after time.Duration) bool {
	if instance == b.self {
		return false
	}
	b.mu.Lock()
	var p peer
	pp, ok := b.m[instance]
	if ok {
		p = *pp
	}
	b.mu.Unlock()
	if ok && p.left {
		return true
	}
	if connected.IsZero() || now.Sub(connected) < after {
		return false // we may have missed its heartbeats ourselves
	}
	if !ok {
		return now.Sub(claimed) > after
	}
	return now.Sub(p.last) > after
}

// newlyDead returns the known instances that died since the last call, so
// the agent scans for their calls once.
func (b *peerBook) newlyDead(now, connected time.Time, after time.Duration) []string {
	b.mu.Lock()
	var cand []string
	for inst := range b.m {
		if !b.reported[inst] {
			cand = append(cand, inst)
		}
	}
	b.mu.Unlock()
	var out []string
	for _, inst := range cand {
		if b.dead(inst, time.Time{}, now, connected, after) {
			out = append(out, inst)
		}
	}
	b.mu.Lock()
	for _, inst := range out {
		b.reported[inst] = true
	}
	// Forget agents dead for long: their calls have been adopted or are
	// found by the periodic scan anyway.
	for inst, p := range b.m {
		if b.reported[inst] && now.Sub(p.last) > time.Hour {
			delete(b.m, inst)
			delete(b.reported, inst)
		}
	}
	b.mu.Unlock()
	return out
}

// alive counts the other instances that beat within after and did not say
// goodbye: whether a handoff has anyone to go to.
func (b *peerBook) alive(now time.Time, after time.Duration) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, p := range b.m {
		if !p.left && now.Sub(p.last) <= after {
			n++
		}
	}
	return n
}
