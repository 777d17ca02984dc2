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
	m := newModel(ctx, src, opts)
	defer m.cancel()
	_, err := tea.NewProgram(m, tea.WithContext(ctx)).Run()
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
