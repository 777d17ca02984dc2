// Package tui is calltop's terminal dashboard: a Bubble Tea v2 program that
// shows every live and recently ended OpenAI Realtime call from the feed on
// NATS and lets an on-call engineer hang one up.
//
// The dashboard is built for SSH sessions and small terminals (80×24): a
// one-line header with the totals and the NATS state, a table of calls that
// renders only its visible rows, and a footer with key hints and transient
// status messages.
//
// Events enter the program as a tea.Cmd that blocks in Source.Next and
// re-arms itself, one message per batch, so the model (which owns its
// feed.Board) is only ever touched by Bubble Tea's update loop. A hang-up
// captures the selected call's ID when the key is pressed, asks for
// confirmation, and sends a feed.TerminateRequest from a tea.Cmd so the
// interface never blocks on the network. The row then changes when the
// owning agent publishes the call's ended event; the dashboard never marks a
// call ended on its own.
package tui
