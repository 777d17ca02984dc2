package agent

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/calltop/calltop/feed"
)

// deniedEvery bounds how often one kind of refusal is logged: an agent
// whose NATS user lacks a permission is refused every usage event of every
// call, many a second.
const deniedEvery = time.Minute

// watchDenied logs what the NATS server refuses the agent: a publish or a
// subscription its NATS user may not make (a role without the agent's
// permissions; docs/SECURITY.md). NATS reports a refusal only
// asynchronously, to the connection's error handler: without this the
// agent would seem to work while nothing it publishes arrives. Refusals
// are grouped by the subject's first four tokens (one line for every
// call's usage events), each group logged at most once per deniedEvery
// with the number refused since. stop silences it.
func watchDenied(nc *nats.Conn, log *slog.Logger) (stop func()) {
	var mu sync.Mutex
	last := make(map[string]time.Time)
	more := make(map[string]int)
	return feed.OnDenied(nc, func(pe *feed.PermissionError) {
		key := pe.Op + " " + subjectGroup(pe.Subject)
		now := time.Now()
		mu.Lock()
		if t, ok := last[key]; ok && now.Sub(t) < deniedEvery {
			more[key]++
			mu.Unlock()
			return
		}
		if len(last) > 1000 { // subjects come from outside: bound the memory
			clear(last)
			clear(more)
		}
		n := more[key]
		last[key], more[key] = now, 0
		mu.Unlock()
		log.Error("NATS refused the agent: permission denied (connect as a user with the agent role: docs/SECURITY.md)",
			"op", pe.Op, "subject", pe.Subject, "refused_since_last_said", n)
	})
}

// subjectGroup is a subject's first four tokens.
func subjectGroup(subject string) string {
	toks := strings.SplitN(subject, ".", 5)
	return strings.Join(toks[:min(len(toks), 4)], ".")
}
