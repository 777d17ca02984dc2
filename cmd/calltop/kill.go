package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/calltop/calltop/feed"
)

func runKill(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("kill", "kill CALL_ID [--reason TEXT] [--nats URL]", stderr)
	var nf natsFlags
	nf.register(fs)
	reason := fs.String("reason", "", "why, recorded on the call's ended event")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the agent to confirm")
	// The call ID may come before or after the flags.
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch len(pos) {
	case 0:
		fs.Usage()
		return errUsage
	case 1:
	default:
		fmt.Fprintf(stderr, "calltop kill: one call at a time (got %s)\n", feed.Printable(strings.Join(pos, ", ")))
		return errUsage
	}
	id := pos[0]
	if err := feed.ValidateCallID(id); err != nil {
		return err
	}
	cl, err := nf.connect("calltop-kill")
	if err != nil {
		return err
	}
	defer cl.NC.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	ctx, undeny := feed.CancelOnDenied(ctx, cl.NC) // reported below, not printed raw
	defer undeny()
	_, err = cl.Terminate(ctx, feed.TerminateRequest{CallID: id, Reason: *reason, Operator: operator()})
	if errors.Is(err, feed.ErrNoOwner) {
		return fmt.Errorf("%s: no agent owns this call (it has ended, or its agent is not connected to %s)", id, nf.redacted())
	}
	if errors.Is(err, feed.ErrPermissionDenied) {
		// Refused by the server at once (a viewer): the call is untouched.
		return fmt.Errorf("%s: %v: hanging up takes a NATS user with the operator role (docs/SECURITY.md)", id, errors.Unwrap(err))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: the agent did not confirm within %s", id, *timeout)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s hung up\n", id)
	return nil
}
