package feed

import (
	"context"
	"fmt"
	"time"
)

// Snapshot folds every stored call event into a new Board and returns it:
// the live and recently ended calls as of now, for one-shot readers such
// as `calltop ls`. retain is the Board's retention (0: DefaultRetain).
func (c *Client) Snapshot(ctx context.Context, retain time.Duration) (*Board, error) {
	w, err := c.Watch(ctx)
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	b := NewBoard(retain)
	for {
		select {
		case <-w.Ready():
			// Everything replayed is in the buffer by now.
			for _, e := range w.TryNext() {
				b.Apply(e)
			}
			return b, nil
		case e := <-w.ch:
			b.Apply(e)
		case <-ctx.Done():
			return nil, fmt.Errorf("snapshot: %w (read %d calls)", ctx.Err(), b.Len())
		}
	}
}
