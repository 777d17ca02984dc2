package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/calltop/calltop/feed"
)

// denied says a refusal by the NATS server (see feed.CancelOnDenied) as
// such, with what it takes: a user of another role. Other errors pass
// as they are.
func denied(ctx context.Context, err error, takes string) error {
	err = feed.Denied(ctx, err)
	if errors.Is(err, feed.ErrPermissionDenied) {
		return fmt.Errorf("%w: %s (docs/SECURITY.md)", err, takes)
	}
	return err
}
