package agent

import (
	"slices"
	"sync"
	"time"

	"github.com/calltop/calltop/feed"
)

// Stats is what an agent counted since it started, and what it holds now.
// It is the one source of the agent's numbers: the NATS micro service's
// stats endpoint answers with it, and package agent/agentprom turns it
// into Prometheus metrics at each scrape, so the agent itself never
// imports a metrics library (an embedder who wants none pays for none).
//
// Counters only grow while the agent runs; maps are copies.
type Stats struct {
	Agent    string    `json:"agent"`
	Instance string    `json:"instance"`
	Version  string    `json:"version"`
	Started  time.Time `json:"started"`

	// CallsLive is the calls this agent tracks now, detached ones
	// included; CallsDetached those whose sideband is down.
	CallsLive     int `json:"calls_live"`
	CallsDetached int `json:"calls_detached"`
	// FinalRecordsPending is the ended calls whose final record waits in
	// the outbox for NATS to store it.
	FinalRecordsPending int `json:"final_records_pending"`

	// CallsEnded counts the calls that ended here, by end reason (a call
	// handed over or taken over by another agent did not end).
	CallsEnded map[feed.Reason]uint64 `json:"calls_ended"`
	// Models is the usage accounted here, by the model that priced it.
	// An adopted call counts only what it spent after the takeover, so
	// the fleet's sum counts every token once.
	Models map[string]ModelStats `json:"models"`
	// Attaches counts sidebands attached; Reattaches those of them that
	// came back after a drop.
	Attaches   uint64 `json:"attaches"`
	Reattaches uint64 `json:"reattaches"`
	// Adoptions counts calls taken over from an agent that died or
	// handed them over.
	Adoptions uint64 `json:"adoptions"`
	// Refusals counts calls refused at admission, by reason (credits,
	// concurrency, hourly, the app's own codes …).
	Refusals map[string]uint64 `json:"refusals"`
	// PublishFailures counts events NATS did not take (the client's
	// reconnect buffer full, the connection closed).
	PublishFailures uint64 `json:"publish_failures"`
	// Hangups is how long hang-ups took, from the request (an operator, a
	// policy, the app) until the call's end was recorded: OpenAI's
	// hangup, then its close of the sideband (at most CloseGrace).
	Hangups Histogram `json:"hangup_seconds"`
}

// ModelStats is the usage of one model's calls.
type ModelStats struct {
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostUSD      float64 `json:"cost_usd"`
}

// Histogram is a distribution of durations in seconds, in cumulative
// buckets (Prometheus' shape): Buckets[i] observations took at most
// Bounds[i]; Count includes those above the last bound.
type Histogram struct {
	Count   uint64    `json:"count"`
	Sum     float64   `json:"sum"`
	Bounds  []float64 `json:"bounds"`
	Buckets []uint64  `json:"buckets"`
}

// hangupBounds are the hangup histogram's bucket bounds in seconds: a
// hangup is one REST call to OpenAI (retried on 429 and 5xx), then up to
// CloseGrace (2 s by default) for OpenAI to close the sideband.
var hangupBounds = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30}

// maxLabels bounds the distinct models, end reasons and refusal reasons
// counted: they come from outside (OpenAI's session, the app's Admit
// hook), and a label set that grows without bound would grow every
// scrape with it. Past it, new values count under otherLabel.
const (
	maxLabels  = 64
	otherLabel = "other"
)

// stats holds the agent's counters. Its zero value is ready; its lock is
// a leaf (taken under a call's lock, never the other way round).
type stats struct {
	mu         sync.Mutex
	ends       map[feed.Reason]uint64
	refusals   map[string]uint64
	attaches   uint64
	reattaches uint64
	adoptions  uint64
	pubFails   uint64
	hangups    []uint64 // per bucket, not cumulative; one more for +Inf
	hangCount  uint64
	hangSum    float64
	models     map[string]usageCount
	// counted is each tracked call's usage accounted so far, so only what
	// it spent since is added (usage events carry cumulative totals).
	counted map[*call]usageCount
}

// usageCount is ModelStats as the agent adds it up: cost in whole
// micro-dollars, so sums are exact and the stats reply and /metrics print
// 0.093768, not 0.09376799999999999. Each call's cumulative cost is
// rounded before its growth is added, so a call's rounding never
// accumulates.
type usageCount struct {
	in, out int64
	cost    feed.Micros
}

// countOf is u as the agent counts it. A cost that is no finite amount
// (never from the price table) counts as nothing.
func countOf(u feed.Usage) usageCount {
	cost, _ := feed.MicrosFromUSD(u.CostUSD)
	return usageCount{in: u.Tokens.Input, out: u.Tokens.Output, cost: cost}
}

// stats is c as Stats reports it.
func (c usageCount) stats() ModelStats {
	return ModelStats{InputTokens: c.in, OutputTokens: c.out, CostUSD: c.cost.USD()}
}

// usage accounts the call's cumulative usage u under model: what grew
// since the last time. Called with c.mu held.
func (s *stats) usage(c *call, model string, u *feed.Usage) {
	if u == nil {
		return
	}
	now := countOf(*u)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counted == nil {
		s.counted = make(map[*call]usageCount)
	}
	was := s.counted[c]
	s.counted[c] = now
	if s.models == nil {
		s.models = make(map[string]usageCount)
	}
	model = boundedKey(s.models, model)
	m := s.models[model]
	m.in += max(now.in-was.in, 0)
	m.out += max(now.out-was.out, 0)
	m.cost += max(now.cost-was.cost, 0)
	s.models[model] = m
}

// adopted notes a call taken over with the totals it had so far: they
// were spent under its former owner, so only what follows counts here.
func (s *stats) adopted(c *call, u feed.Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counted == nil {
		s.counted = make(map[*call]usageCount)
	}
	s.counted[c] = countOf(u)
	s.adoptions++
}

// ended counts a call's end and its final usage. Called with c.mu held.
func (s *stats) ended(c *call, reason feed.Reason, model string, u *feed.Usage) {
	s.usage(c, model, u)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ends == nil {
		s.ends = make(map[feed.Reason]uint64)
	}
	s.ends[boundedKey(s.ends, reason)]++
}

// forget drops a call the agent no longer tracks.
func (s *stats) forget(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.counted, c)
}

// attached counts a sideband attached; again: after a drop.
func (s *stats) attached(again bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attaches++
	if again {
		s.reattaches++
	}
}

// refused counts a refusal by its reason.
func (s *stats) refused(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refusals == nil {
		s.refusals = make(map[string]uint64)
	}
	s.refusals[boundedKey(s.refusals, reason)]++
}

// publishFailed counts an event NATS did not take.
func (s *stats) publishFailed() {
	s.mu.Lock()
	s.pubFails++
	s.mu.Unlock()
}

// timeHangup observes a hangup that started at start; use it deferred.
func (s *stats) timeHangup(start time.Time) { s.observeHangup(time.Since(start).Seconds()) }

// observeHangup adds a hangup that took d seconds to the histogram.
func (s *stats) observeHangup(d float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hangups == nil {
		s.hangups = make([]uint64, len(hangupBounds)+1)
	}
	i, _ := slices.BinarySearch(hangupBounds, d) // the first bound ≥ d
	s.hangups[i]++
	s.hangCount++
	s.hangSum += d
}

// histogramLocked is the hangup histogram, its buckets cumulative.
func (s *stats) histogramLocked() Histogram {
	h := Histogram{Count: s.hangCount, Sum: s.hangSum, Bounds: slices.Clone(hangupBounds), Buckets: make([]uint64, len(hangupBounds))}
	var cum uint64
	for i := range hangupBounds {
		if s.hangups != nil {
			cum += s.hangups[i]
		}
		h.Buckets[i] = cum
	}
	return h
}

// boundedKey is k, or otherLabel once m holds maxLabels keys without k.
func boundedKey[K ~string, V any](m map[K]V, k K) K {
	if _, ok := m[k]; ok || len(m) < maxLabels {
		return k
	}
	return otherLabel
}

// Stats returns what the agent counted since it started and holds now.
func (a *Agent) Stats() Stats {
	calls := a.snapshot()
	st := Stats{Agent: a.cfg.Name, Instance: a.instance, Version: buildVersion(), Started: a.started,
		CallsLive: len(calls), FinalRecordsPending: a.outbox.Len()}
	for _, c := range calls {
		if c.isDetached() {
			st.CallsDetached++
		}
	}
	s := &a.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	st.CallsEnded = cloneMap(s.ends)
	st.Models = make(map[string]ModelStats, len(s.models))
	for model, m := range s.models {
		st.Models[model] = m.stats()
	}
	st.Refusals = cloneMap(s.refusals)
	st.Attaches, st.Reattaches, st.Adoptions, st.PublishFailures = s.attaches, s.reattaches, s.adoptions, s.pubFails
	st.Hangups = s.histogramLocked()
	return st
}

// cloneMap copies m; never nil, so a snapshot encodes {} rather than null.
func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
