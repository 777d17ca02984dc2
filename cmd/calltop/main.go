// Command calltop watches and controls OpenAI Realtime calls and GPT-Live sessions from the
// server side: a dashboard (watch, the default), the agent sidecar, a
// self-contained demo, one-shot ls and kill, and a small NATS server.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/calltop/calltop/feed"
)

// command is one subcommand: its name, a one-line summary and its body.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"watch", "the live dashboard against NATS (the default)", runWatch},
	{"demo", "everything in one process: NATS, an OpenAI stand-in, simulated calls, an agent, the dashboard", runDemo},
	{"agent", "the agent sidecar: tracks calls posted to its HTTP API, publishes to NATS", runAgent},
	{"ls", "list live and recently ended calls (--json for scripts)", runLs},
	{"kill", "hang up a call through its owning agent", runKill},
	{"server", "a standalone NATS server with JetStream for small installs", runServer},
	{"credits", "set, add and list users' credits in USD (the sidecar's built-in credit store)", runCredits},
	{"serve", "the dashboard over SSH, a role per key", runServe},
	{"audit", "who hung up what and who changed credits: the audit trail (--json for scripts)", runAudit},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks a usage error already explained by the flag package.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	name := "watch"
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		name, args = args[0], args[1:]
	}
	if name == "help" || name == "--help" || name == "-h" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(ctx, args, stdout, stderr)
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.Is(err, context.Canceled) && ctx.Err() != nil:
			return 130
		}
		// An error may quote what came from outside (an agent's reply, a
		// user, a file): one line, no control characters.
		fmt.Fprintf(stderr, "calltop %s: %s\n", name, feed.Printable(err.Error()))
		return 1
	}
	fmt.Fprintf(stderr, "calltop: unknown command %q (try: calltop help)\n", name)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "calltop: see, meter and stop OpenAI Realtime calls and GPT-Live sessions from the server side.")
	fmt.Fprintln(w, "\nUsage: calltop [command] [flags]   (calltop COMMAND -h for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-7s %s\n", c.name, c.summary)
	}
}
