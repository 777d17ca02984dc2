package tui

import "time"

// DefaultRetain is how long an ended call stays in the calls table,
// dimmed: long enough to see that a hang-up worked and why a call ended,
// short enough that the table stays about what is live. The History view
// keeps ended calls longer.
const DefaultRetain = 2 * time.Minute

// DefaultFrameRate bounds how many event batches reach the model per
// second: one per frame at Bubble Tea's default 60 fps, so a burst of
// events costs one update and one render per frame, never one per event.
const DefaultFrameRate = 60

// DefaultReasons are the preset reasons of the hang-up dialog; "other"
// takes free text.
var DefaultReasons = []string{
	"abusive or fraudulent caller",
	"runaway cost",
	"out of credits",
	"stuck or test call",
}

// Options configures a dashboard. The zero value works.
type Options struct {
	// Operator identifies the person at the keyboard ("user@host"); it is
	// sent with terminate requests so the agent records who hung a call
	// up (End.By on the ended event).
	Operator string
	// ReadOnly removes the hang-up keys and refuses any terminate: for
	// product owners and wall screens.
	ReadOnly bool
	// ReadOnlyWhy says why, in the line shown when a hang-up key is
	// pressed on a read-only dashboard: "--readonly" if empty; over SSH,
	// "viewer key".
	ReadOnlyWhy string
	// Keys replaces the default key map (see LoadKeyMap).
	Keys *KeyMap
	// Reasons are the presets of the hang-up dialog; DefaultReasons if
	// nil.
	Reasons []string
	// Now is the clock for ages, rates and status expiry; time.Now if nil.
	// Tests pin it.
	Now func() time.Time
	// Retain is how long ended calls stay in the calls table;
	// DefaultRetain if zero.
	Retain time.Duration
	// History is how many ended calls the History view keeps;
	// DefaultHistory if zero.
	History int
	// FrameRate is the most event batches per second; DefaultFrameRate if
	// zero.
	FrameRate int
	// ReplayAt, if set, says the Source replays the board as it was at
	// that moment (calltop watch --at): the header says so on every
	// screen. The caller makes such a dashboard read-only and pins Now to
	// ReplayAt.
	ReplayAt time.Time
	// Where names the feed, e.g. "nats://127.0.0.1:4222" (credentials
	// redacted): the header shows it, when there is room, so an operator
	// with several dashboards open knows which is which.
	Where string
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retain <= 0 {
		o.Retain = DefaultRetain
	}
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	if o.FrameRate <= 0 {
		o.FrameRate = DefaultFrameRate
	}
	if o.Reasons == nil {
		o.Reasons = DefaultReasons
	}
	return o
}

// frame is the shortest time between two event batches.
func (o Options) frame() time.Duration { return time.Second / time.Duration(o.FrameRate) }
