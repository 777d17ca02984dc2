package policy

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/calltop/calltop/feed"
)

// Admission refusal reasons, as they appear in refused events
// (feed.Refusal.Reason) and in the agent's refusals.
const (
	RefuseCredits     = "credits"     // 402: no credit left
	RefuseConcurrency = "concurrency" // 429: at MaxConcurrent live calls
	RefuseHourly      = "hourly"      // 429: MaxPerHour calls started in the last hour
)

// Decision is an admission answer: OK, or the status, reason and detail of
// a refusal.
type Decision struct {
	OK     bool
	Status int    // 200 when OK; 402 or 429 when refused
	Reason string // RefuseCredits, RefuseConcurrency, RefuseHourly
	Detail string // for people
}

// Admission counts each user's live calls and the calls they started in
// the last hour (a sliding window), to refuse a call before OpenAI is
// contacted. It has no clock and does no I/O: callers pass the time and
// the user's credits. Safe for concurrent use.
//
// Every call enters once, through Admit (checked) or Register (counted
// without a check: a call the app created itself), and leaves once through
// Release when it ends. The empty user is a user like any other: calls
// without one share its limits.
type Admission struct {
	policyFor func(user string) Policy

	mu    sync.Mutex
	users map[string]*userLoad
}

type userLoad struct {
	live   int
	starts []time.Time // calls entered, pruned to the last hour
}

// NewAdmission returns an Admission that limits each user by
// policyFor(user) (MaxConcurrent, MaxPerHour); nil: no such limits, only
// credits are checked.
func NewAdmission(policyFor func(user string) Policy) *Admission {
	if policyFor == nil {
		policyFor = func(string) Policy { return Policy{} }
	}
	return &Admission{policyFor: policyFor, users: make(map[string]*userLoad)}
}

// Admit decides whether user may start a call at now, with credits the
// user's balance (nil: no credit limit), and if so counts the call as live
// until Release. Credits are checked first (402), then concurrency and the
// hourly window (429).
func (a *Admission) Admit(user string, now time.Time, credits *feed.Micros) (ok bool, status int, reason string) {
	d := a.Decide(user, now, credits)
	return d.OK, d.Status, d.Reason
}

// Decide is Admit with the refusal's detail.
func (a *Admission) Decide(user string, now time.Time, credits *feed.Micros) Decision {
	if credits != nil && *credits <= 0 {
		return Decision{Status: http.StatusPaymentRequired, Reason: RefuseCredits,
			Detail: fmt.Sprintf("no credit left (%s)", *credits)}
	}
	p := a.policyFor(user)
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.load(user, now)
	if p.MaxConcurrent > 0 && u.live >= p.MaxConcurrent {
		return Decision{Status: http.StatusTooManyRequests, Reason: RefuseConcurrency,
			Detail: fmt.Sprintf("%s, at the limit of %d", Calls(int64(u.live), "live"), p.MaxConcurrent)}
	}
	if p.MaxPerHour > 0 && len(u.starts) >= p.MaxPerHour {
		return Decision{Status: http.StatusTooManyRequests, Reason: RefuseHourly,
			Detail: fmt.Sprintf("%s in the last hour, at the limit of %d", Calls(int64(len(u.starts)), ""), p.MaxPerHour)}
	}
	u.live++
	u.starts = append(u.starts, now)
	return Decision{OK: true, Status: http.StatusOK}
}

// Check is Decide without counting: for a decision that starts no call by
// itself (minting a client secret; the call it leads to is counted by
// Register when it is reported).
func (a *Admission) Check(user string, now time.Time, credits *feed.Micros) Decision {
	d := a.Decide(user, now, credits)
	if d.OK {
		a.mu.Lock()
		u := a.load(user, now)
		u.live--
		u.starts = u.starts[:len(u.starts)-1]
		a.mu.Unlock()
	}
	return d
}

// Register counts a call that did not pass Admit (the app created it and
// only told the agent afterwards) and returns a concurrency flag when it
// puts user above MaxConcurrent, for the caller to publish on the call.
func (a *Admission) Register(user string, now time.Time) *feed.Flag {
	p := a.policyFor(user)
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.load(user, now)
	u.live++
	u.starts = append(u.starts, now)
	if p.MaxConcurrent <= 0 || u.live <= p.MaxConcurrent {
		return nil
	}
	return &feed.Flag{Kind: feed.FlagConcurrency,
		Message: fmt.Sprintf("%s, above the limit of %d", Calls(int64(u.live), "live"), p.MaxConcurrent),
		Evidence: map[string]string{
			"user":            user,
			"live":            strconv.Itoa(u.live),
			"max_concurrent":  strconv.Itoa(p.MaxConcurrent),
			"calls_last_hour": strconv.Itoa(len(u.starts)),
		}}
}

// Release counts one of user's calls as ended. Releasing more calls than
// entered is ignored.
func (a *Admission) Release(user string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[user]
	if !ok {
		return
	}
	if u.live > 0 {
		u.live--
	}
	if u.live == 0 && len(u.starts) == 0 {
		delete(a.users, user)
	}
}

// Live is how many of user's calls are live.
func (a *Admission) Live(user string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if u, ok := a.users[user]; ok {
		return u.live
	}
	return 0
}

// LiveUsers is every user with live calls, and how many: the truth a
// copy of these counts elsewhere (the agent's shared counts in NATS) is
// corrected to.
func (a *Admission) LiveUsers() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.users))
	for user, u := range a.users {
		if u.live > 0 {
			out[user] = u.live
		}
	}
	return out
}

// Prune forgets users with no live call and no call in the hour before
// now, bounding memory; call it now and then (every minute is plenty).
func (a *Admission) Prune(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for user := range a.users {
		if u := a.load(user, now); u.live == 0 && len(u.starts) == 0 {
			delete(a.users, user)
		}
	}
}

// load returns user's counters with calls older than an hour before now
// dropped (a call at exactly now − 1h has left the window).
func (a *Admission) load(user string, now time.Time) *userLoad {
	u, ok := a.users[user]
	if !ok {
		u = &userLoad{}
		a.users[user] = u
		return u
	}
	from := now.Add(-time.Hour)
	kept := u.starts[:0]
	for _, t := range u.starts {
		if t.After(from) {
			kept = append(kept, t)
		}
	}
	clear(u.starts[len(kept):])
	u.starts = kept
	return u
}
