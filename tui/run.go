package tui

import (
	"context"
	"errors"
	"fmt"

	tea "charm.land/bubbletea/v2"
)

// Run shows the dashboard full-screen until the user quits (q or ctrl+c)
// or ctx ends; both are a normal end and return nil. It returns an error
// only when the terminal cannot be driven. It sets the process's GC
// target for the dashboard (gc.go) unless GOGC is set.
func Run(ctx context.Context, src Source, opts Options) error {
	tuneGC()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, err := NewProgram(ctx, src, opts, tea.WithContext(ctx)).Run()
	return runErr(ctx, err)
}

// NewProgram returns the dashboard as a Bubble Tea program on a terminal
// the caller provides in popts (input, output, window size, environment,
// colour profile), for a caller that runs several dashboards in one
// process: an SSH server runs one per session, each on its session's
// channel and size. ctx bounds the commands that read src and send
// hang-ups: cancel it once Run has returned, so a program that ended
// other than by the user quitting (Program.Quit, its input closed) leaves
// no command waiting in src. The program itself ends when the user quits,
// on Program.Quit or Kill, or with tea.WithContext in popts. Unlike Run it
// leaves the process's GC target alone: that is the host's to choose.
func NewProgram(ctx context.Context, src Source, opts Options, popts ...tea.ProgramOption) *tea.Program {
	return tea.NewProgram(newModel(ctx, src, opts), popts...)
}

// runErr maps how a dashboard program ended to Run's result: quitting,
// ctrl+c and ctx ending are normal ends.
func runErr(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tea.ErrInterrupted):
		return nil
	case errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil:
		return nil
	default:
		return fmt.Errorf("dashboard: %w", err)
	}
}
