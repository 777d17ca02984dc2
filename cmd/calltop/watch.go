package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/calltop/calltop/feed"
	"github.com/calltop/calltop/tui"
)

// source joins a Watcher (events) and a Client (terminate, connection
// state) into what the dashboard needs.
type source struct {
	*feed.Watcher
	*feed.Client
}

// watchFlags are the dashboard's own settings, shared with the demo.
type watchFlags struct {
	readOnly bool
	keys     string
}

func (w *watchFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&w.readOnly, "readonly", false, "no hang-up keys; every terminate is refused")
	env(fs, "readonly", "CALLTOP_READONLY")
	fs.StringVar(&w.keys, "keys", "", "key bindings `file`, action = key, key lines or .json (default ~/.config/calltop/keys.conf if present)")
	env(fs, "keys", "CALLTOP_KEYS")
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

func watchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "watch [flags]",
		Short: "the live dashboard against NATS (the default command)",
		Args:  noArgs,
	}
	fs := cmd.Flags()
	var nf natsFlags
	nf.register(fs)
	var wf watchFlags
	wf.register(fs)
	atFlag := fs.String("at", "", "replay the board as it was at `TIME`, read-only, from the history stream: "+whenForms)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		at, err := parseAt(*atFlag, time.Now())
		if err != nil {
			return usagef("--at %w", err)
		}
		return runWatch(cmd.Context(), &nf, &wf, at)
	}
	return cmd
}

// runWatch runs the dashboard live, or on the moment at (if not zero).
func runWatch(ctx context.Context, nf *natsFlags, wf *watchFlags, at time.Time) error {
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
	// A refused hang-up (a viewer's NATS user) is said in the status
	// line; nats.go would also print it raw over the screen.
	feed.TakeDenied(cl.NC, func(*feed.PermissionError) {})
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
