package main

import (
	"context"
	"io"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/tui"
)

// source joins a Watcher (events) and a Client (terminate, connection
// state) into what the dashboard needs.
type source struct {
	*feed.Watcher
	*feed.Client
}

func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("watch", "[watch] [--nats URL]", stderr)
	var nf natsFlags
	nf.register(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	cl, err := nf.connect("calltop-watch")
	if err != nil {
		return err
	}
	defer cl.NC.Close()
	return watch(ctx, cl)
}

// watch runs the dashboard on cl until the user quits or ctx ends.
func watch(ctx context.Context, cl *feed.Client) error {
	w, err := cl.Watch(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	return tui.Run(ctx, source{w, cl}, tui.Options{Operator: operator()})
}
