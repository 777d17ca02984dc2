package tui

import (
	"time"

	"github.com/calltop/calltop/feed"
)

// ringLen is how many buckets a ring keeps: an hour of minutes plus the
// partial bucket at the window's far end.
const ringLen = 64

// ring is a fixed window of time buckets (60 seconds of 1 s, 60 minutes of
// 1 min, …) that values are added to and summed over. Its memory is
// constant, whatever the rate of events: a few hundred bytes per user.
type ring struct {
	size int64 // bucket size in seconds
	// buckets holds each slot's bucket number and value side by side, so
	// adding to one touches one cache line.
	buckets [ringLen]struct {
		stamp int64
		val   float64
	}
}

func newRing(size time.Duration) ring { return ring{size: max(1, int64(size/time.Second))} }

// bucket returns the number of the bucket holding t.
func (r *ring) bucket(t time.Time) int64 { return t.Unix() / r.size }

// add puts v into t's bucket. A value for a bucket older than the one its
// slot holds is outside the window already and dropped, so the result does
// not depend on the order values arrive in.
func (r *ring) add(t time.Time, v float64) {
	b := r.bucket(t)
	i := b % ringLen
	if i < 0 {
		i += ringLen
	}
	k := &r.buckets[i]
	if b < k.stamp {
		return
	}
	if k.stamp != b {
		k.stamp, k.val = b, 0
	}
	k.val += v
}

// get returns the value of bucket b (0 if it was never filled or has been
// reused since).
func (r *ring) get(b int64) float64 {
	i := b % ringLen
	if i < 0 {
		i += ringLen
	}
	if k := &r.buckets[i]; k.stamp == b {
		return k.val
	}
	return 0
}

// sum adds up the last n bucket sizes before now: the n buckets ending
// with now's, plus the part of the one before that still falls inside the
// window (values are taken as spread evenly over their bucket), so "the
// last 5 minutes" is five minutes whatever the second.
func (r *ring) sum(now time.Time, n int) float64 {
	n = min(n, ringLen-1)
	end := r.bucket(now)
	s := 0.0
	for b := end - int64(n) + 1; b <= end; b++ {
		s += r.get(b)
	}
	into := float64(now.Unix()-end*r.size) / float64(r.size)
	return s + r.get(end-int64(n))*(1-into)
}

// spread adds v evenly over [from, to], as far as the window reaches: how
// the cost of a call first seen with usage already on it (a dashboard
// started late) is attributed to the minutes it was live, on the
// assumption that it burned evenly.
func (r *ring) spread(from, to time.Time, v float64) {
	if v == 0 {
		return
	}
	if !to.After(from) {
		r.add(to, v)
		return
	}
	total := to.Sub(from).Seconds()
	horizon := time.Unix((r.bucket(to)-ringLen+1)*r.size, 0)
	start := from
	if start.Before(horizon) {
		start = horizon
	}
	for t := start; t.Before(to); {
		next := time.Unix((r.bucket(t)+1)*r.size, 0)
		if next.After(to) {
			next = to
		}
		r.add(t, v*next.Sub(t).Seconds()/total)
		t = next
	}
}

// meter is the dashboard's running measures, fed from usage deltas: tokens
// per second, the total $/min sampled for the header's sparkline, and each
// user's spend over the last minutes.
type meter struct {
	tokens ring // tokens per 1 s bucket
	burn   ring // sum of $/min samples per 10 s bucket
	burnN  ring // sample count per 10 s bucket
	users  map[string]*ring
	since  time.Time // first observation, for rates over short uptimes
	// gen counts forget's runs: a userMeter of an older one may hold a
	// ring forget dropped.
	gen uint64
}

// userMeter is a row's cached pointer to its user's ring in meter.users,
// so that a usage event does not look the user up.
type userMeter struct {
	user string
	gen  uint64
	ring *ring
}

func newMeter() *meter {
	return &meter{
		tokens: newRing(time.Second),
		burn:   newRing(sparkBucket),
		burnN:  newRing(sparkBucket),
		users:  make(map[string]*ring),
	}
}

// sparkBucket is the time one sparkline cell covers.
const sparkBucket = 15 * time.Second

// observe accounts the change from old (seen is false for a call the
// dashboard had not seen) to c at now. A new call's usage so far is spread
// over its life; a known call's increase is put at now.
func (m *meter) observe(old *feed.Call, seen bool, c *feed.Call, now time.Time) {
	m.observeRow(old, seen, c, now, nil)
}

// observeRow is observe with the row's userMeter (nil: none).
func (m *meter) observeRow(old *feed.Call, seen bool, c *feed.Call, now time.Time, um *userMeter) {
	if m.since.IsZero() {
		m.since = now
	}
	from, to := c.StartedAt, now
	if !c.Live() && !c.EndedAt.IsZero() && c.EndedAt.Before(now) {
		to = c.EndedAt
	}
	if from.IsZero() || from.After(to) {
		from = to
	}
	var dCost float64
	var dTok int64
	tok, _ := tableTokens(c) // tokens/s counts Realtime tokens only
	if seen {
		dCost = c.Usage.CostUSD - old.Usage.CostUSD
		oldTok, _ := tableTokens(old)
		dTok = tok - oldTok
	}
	if !c.Usage.CostUnknown && c.User != "" {
		var u *ring
		if um != nil && um.ring != nil && um.gen == m.gen && um.user == c.User {
			u = um.ring
		} else {
			u = m.users[c.User]
			if u == nil {
				u = new(ring)
				*u = newRing(time.Minute)
				m.users[c.User] = u
			}
			if um != nil {
				*um = userMeter{user: c.User, gen: m.gen, ring: u}
			}
		}
		switch {
		case !seen:
			u.spread(from, to, c.Usage.CostUSD)
		case dCost > 0:
			u.add(now, dCost)
		}
	}
	switch {
	case !seen:
		m.tokens.spread(from, to, float64(tok))
	case dTok > 0:
		m.tokens.add(now, float64(dTok))
	}
}

// tokensPerSecond is the token rate over the last ten seconds (or the
// uptime, if shorter), counting the current partial second.
func (m *meter) tokensPerSecond(now time.Time) float64 {
	const window = 10
	secs := window
	if up := int(now.Sub(m.since) / time.Second); !m.since.IsZero() && up+1 < window {
		secs = up + 1
	}
	return m.tokens.sum(now, secs) / float64(secs)
}

// sample records the current total $/min for the sparkline.
func (m *meter) sample(now time.Time, perMin float64) {
	m.burn.add(now, perMin)
	m.burnN.add(now, 1)
}

// sparkValues returns the mean $/min of the last n sparkline buckets,
// oldest first; buckets without a sample are negative (drawn blank).
func (m *meter) sparkValues(now time.Time, n int) []float64 {
	n = min(n, ringLen)
	out := make([]float64, n)
	end := m.burn.bucket(now)
	for i := range out {
		b := end - int64(n-1-i)
		if c := m.burnN.get(b); c > 0 {
			out[i] = m.burn.get(b) / c
		} else {
			out[i] = -1
		}
	}
	return out
}

// userSpend is what a user spent in the last 5 and 60 minutes.
func (m *meter) userSpend(user string, now time.Time) (last5, last60 float64) {
	u := m.users[user]
	if u == nil {
		return 0, 0
	}
	return u.sum(now, 5), u.sum(now, 60)
}

// forget drops users with nothing spent in the last hour and no call on
// the board, so the meter does not grow with every user ever seen.
func (m *meter) forget(now time.Time, onBoard func(user string) bool) {
	m.gen++
	for name, u := range m.users {
		if u.sum(now, ringLen-1) == 0 && !onBoard(name) {
			delete(m.users, name)
		}
	}
}
