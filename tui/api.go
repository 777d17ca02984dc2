package tui

import "github.com/calltop/calltop/feed"

// The dashboard shows Realtime calls and GPT-Live sessions side by side.
// They differ in what OpenAI bills: a Realtime call the tokens of each
// response, a Live session the seconds OpenAI counts (feed.Usage.
// LiveSeconds) plus its delegated backend's tokens, kept apart
// (BackendTokens). So a Live row has no count in the token columns, and
// everything built on cost ($/MIN, spend, the header's $/min) treats both
// alike.

// liveAPI reports whether c runs on GPT-Live (feed.Call.Kind: what its
// agent said, else its id). Not to be confused with feed.Call.Live, which
// says the call has not ended.
func liveAPI(c *feed.Call) bool { return c.Kind() == feed.APILive }

// noTokens is a Live session's token cells: a dash, as `calltop ls`
// prints, and not "0", which would read as a Realtime call that has not
// spoken yet.
const noTokens = "-"

// tableTokens is the token count the table shows, sorts by and adds to
// tokens/s: a Realtime call's total, and none (ok false) for a Live
// session, whose billing is in seconds. Agents leave a Live session's
// Tokens zero; this keeps the columns, the sort and the header
// consistent should one not.
func tableTokens(c *feed.Call) (n int64, ok bool) {
	if liveAPI(c) {
		return 0, false
	}
	return c.Usage.Tokens.Total, true
}

// reasonNotes explain the end reasons whose word alone does not say who
// ended the call.
var reasonNotes = map[feed.Reason]string{
	feed.ReasonContent: "OpenAI safety filter", // session.closed "content"
}

// reasonNote is what reasonNotes says about r, or "".
func reasonNote(r feed.Reason) string { return reasonNotes[r] }

// DescribeReason is an end reason as calltop's screens write it out:
// "content (OpenAI safety filter)", and the others as they are ("operator",
// "policy"), made printable (it comes from an agent). The call's detail
// and `calltop ls` use it; where width is short (STATE, the History's
// REASON) the bare word stands and the note goes with the detail text.
func DescribeReason(r feed.Reason) string {
	s := sanitize(string(r))
	if n := reasonNote(r); n != "" {
		s += " (" + n + ")"
	}
	return s
}
