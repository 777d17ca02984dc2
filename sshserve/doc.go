// Package sshserve serves calltop's dashboard over SSH: `calltop serve`.
// Each SSH session gets its own dashboard (package tui) on its own window
// size and colour profile, reading the feed through one NATS connection
// that all sessions share, whose URL and credentials no SSH user sees.
//
// Who may connect, and as what, is decided per public key from two files
// in authorized_keys format: operators may hang calls up, viewers only
// watch. Any other key is refused while authenticating; passwords and
// keyboard-interactive logins are not offered. A key listed in both files
// is an operator: listing it there is the explicit grant. The role is
// looked up again from the key the connection authenticated with when the
// session starts (never from a key the client merely offered), and a
// viewer's dashboard is read-only twice over: its options remove the
// hang-up keys and its source refuses every terminate.
//
// An operator's hang-up is signed with the key's comment and SHA256
// fingerprint ("alice@laptop SHA256:…"), which the owning agent records as
// End.By on the call's ended event. Comments come from a file but end up
// on screens and in the audit trail, so they pass through feed.Printable.
//
// The server keeps its ed25519 host key in a file, created with mode 0600
// on first start and reused afterwards, so clients see the same
// fingerprint across restarts; a key file that others may read is refused,
// as sshd does. It bounds the sessions open at once, disconnects sessions
// idle (no key, paste, mouse or resize) for longer than a limit, and on
// shutdown ends every session and says why.
package sshserve
