// Package tui is calltop's terminal dashboard: a Bubble Tea v2 program that
// shows every live and recently ended OpenAI Realtime call and GPT-Live
// session from the feed on NATS, for on-call engineers over SSH and product
// owners hunting abuse, and lets an operator hang calls up, with a reason,
// from the keyboard. The two APIs share the table (api.go): a Live session
// is billed by the second, so its row has an API of "live" and no tokens.
//
// Screens: the calls table (sort, filter, flags, changes marked ↑/↓), a
// call's detail (usage per modality, seconds, policy and budget left with
// the projected cut-off, flags with evidence, the last events), users
// (spend in the last 5 and 60 minutes, credit left, hang up all their
// calls), history (ended calls, why and by whom) and agents (online,
// silent or left, detached calls, outbox, credits). 80×24 is a supported
// size; NO_COLOR and 16-colour terminals are respected, and colour never
// carries anything the text does not also say.
//
// It tells the truth about faults: a call whose sideband dropped reads
// "detached 12s" (it goes on, and can be hung up); one whose agent went
// silent or left reads "agent silent"/"agent left"; while the Source
// cannot read (NATS down, the stream unreachable: see staler) the header
// says STALE, since when and why; agents that cannot read credits raise a
// header alert. Text from outside is drawn through feed.Printable.
//
// The table is built for a live feed of 10,000 calls (rows.go): rows are
// keyed by call ID, each keeps its sort key, filter match and text widths,
// a batch re-orders only the rows it changed (merged into the rest), and
// View renders only the rows on screen. What every frame reads of every
// row (the order's keys, the header's totals, the column widths) sits in
// dense slices (roworder.go, rowstats.go), so those passes do not chase a
// pointer per row; ended calls leave the table on time from them, and the
// Board prunes less often (prune.go). BenchmarkFrame measures a frame,
// decode included, against two bubbles-table baselines. The selection is
// a call ID, so it follows its call through re-sorts, arrivals and
// departures.
//
// Events enter the program as a tea.Cmd that blocks in Source.Next and
// re-arms itself, paced to one batch per frame (source.go), so a burst of
// events costs one Update and one View per frame and the model (which owns
// its feed.Board) is only ever touched by Bubble Tea's update loop. A
// hang-up captures the call IDs when the key is pressed, asks for a reason
// in a dialog that opens on Cancel, and sends a feed.TerminateRequest
// carrying the operator (user@host) and the reason from a tea.Cmd, so the
// interface never blocks on the network. The row then changes when the
// owning agent publishes the call's ended event; the dashboard never marks
// a call ended on its own. Options.ReadOnly removes the hang-up keys and
// refuses every terminate.
//
// Keys come from one KeyMap (keys.go) that drives matching and the help
// alike; LoadKeyMap reads a key file so operators can rebind them.
//
// Run drives the process's own terminal. NewProgram drives one its host
// provides (input, output, size, environment and colour profile as
// tea.ProgramOptions): the SSH server runs one per session, so tui itself
// knows nothing of SSH.
package tui
