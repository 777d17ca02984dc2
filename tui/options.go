package tui

import "time"

// DefaultRetain is how long an ended call stays on the dashboard, dimmed:
// long enough to see that a hang-up worked and why a call ended, short
// enough that the table stays about what is live.
const DefaultRetain = 2 * time.Minute

// Options configures a dashboard. The zero value works.
type Options struct {
	// Operator identifies the person at the keyboard ("user@host"); it is
	// sent with terminate requests so the agent and the audit trail know
	// who hung a call up.
	Operator string
	// Now is the clock for ages, rates and status expiry; time.Now if nil.
	// Tests pin it.
	Now func() time.Time
	// Retain is how long ended calls stay visible; DefaultRetain if zero.
	Retain time.Duration
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retain <= 0 {
		o.Retain = DefaultRetain
	}
	return o
}
