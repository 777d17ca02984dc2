package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/tui"
)

// source joins a Watcher (events) and a Client (terminate, connection
// state) into what the dashboard needs.
type source struct {
	*feed.Watcher
	*feed.Client
}

// watchFlags are the dashboard's own settings: flag, environment variable
// and default in one place.
type watchFlags struct {
	readOnly bool
	keys     string
}

func (w *watchFlags) register(fs *flag.FlagSet) {
	ro, _ := strconv.ParseBool(os.Getenv("CALLTOP_READONLY"))
	fs.BoolVar(&w.readOnly, "readonly", ro, "no hang-up keys; every terminate is refused (env CALLTOP_READONLY)")
	fs.StringVar(&w.keys, "keys", os.Getenv("CALLTOP_KEYS"),
		"key bindings file, `action = key, key` lines or .json (env CALLTOP_KEYS; default ~/.config/calltop/keys.conf if present)")
}

// options turns the flags into dashboard options, reading the key file.
func (w *watchFlags) options() (tui.Options, error) {
	opts := tui.Options{Operator: operator(), ReadOnly: w.readOnly}
	path := w.keys
	if path == "" {
		path = tui.DefaultKeyFile()
	}
	if path != "" {
		km, err := tui.LoadKeyMap(path)
		if err != nil {
			return tui.Options{}, fmt.Errorf("--keys: %w", err)
		}
		opts.Keys = &km
	}
	return opts, nil
}

func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("watch", "[watch] [--nats URL] [--readonly] [--keys FILE] [--at TIME]", stderr)
	var nf natsFlags
	nf.register(fs)
	var wf watchFlags
	wf.register(fs)
	atFlag := fs.String("at", "", "replay the board as it was at `TIME`, read-only, from the history stream: "+whenForms)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	at, err := parseAt(*atFlag, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "calltop watch: --at %s\n", feed.Printable(err.Error()))
		return errUsage
	}
	opts, err := wf.options()
	if err != nil {
		return err
	}
	opts.Where = nf.redacted() // the header says which NATS, never its password
	cl, err := nf.connect("calltop-watch")
	if err != nil {
		return err
	}
	defer cl.NC.Close()
	if !at.IsZero() {
		src, opts, err := replayAt(ctx, cl, at, opts)
		if err != nil {
			return err
		}
		return tui.Run(ctx, src, opts)
	}
	return watchWith(ctx, cl, opts)
}

// replayAt is the dashboard's source and options for the board as it was
// at at: read-only, its clock stopped at that moment.
func replayAt(ctx context.Context, cl *feed.Client, at time.Time, opts tui.Options) (tui.Source, tui.Options, error) {
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	m, err := cl.MomentAt(rctx, at)
	if err != nil {
		return nil, opts, err
	}
	opts.ReplayAt, opts.ReadOnly, opts.ReadOnlyWhy = at, true, "a replay of a past moment"
	opts.Now = func() time.Time { return at }
	return feed.NewReplay(m), opts, nil
}

// watchWith runs the dashboard on cl with opts. A read-only dashboard's
// source refuses terminates itself, whatever the dashboard asks.
func watchWith(ctx context.Context, cl *feed.Client, opts tui.Options) error {
	w, err := cl.Watch(ctx)
	if err != nil {
		return err
	}
	defer w.Stop()
	var src tui.Source = source{w, cl}
	if opts.ReadOnly {
		src = tui.ReadOnlySource(src)
	}
	return tui.Run(ctx, src, opts)
}
