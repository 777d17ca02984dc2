package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

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
	fs := newFlagSet("watch", "[watch] [--nats URL] [--readonly] [--keys FILE]", stderr)
	var nf natsFlags
	nf.register(fs)
	var wf watchFlags
	wf.register(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
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
	return watchWith(ctx, cl, opts)
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
