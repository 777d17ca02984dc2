package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/calltop/calltop/feed"
)

func killCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kill CALL_ID [flags]",
		Short: "hang up a call through its owning agent",
		Args: func(cmd *cobra.Command, args []string) error {
			switch len(args) {
			case 0:
				return &usageError{err: errors.New("which call? give its ID"), showUsage: true}
			case 1:
				return nil
			}
			return usagef("one call at a time (got %s)", strings.Join(args, ", "))
		},
	}
	fs := cmd.Flags()
	var nf natsFlags
	nf.register(fs)
	reason := fs.String("reason", "", "why, recorded on the call's ended event")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the agent to confirm")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runKill(cmd.Context(), &nf, args[0], *reason, *timeout, cmd.OutOrStdout())
	}
	return cmd
}

func runKill(ctx context.Context, nf *natsFlags, id, reason string, timeout time.Duration, stdout io.Writer) error {
	if err := feed.ValidateCallID(id); err != nil {
		return err
	}
	cl, err := nf.connect("calltop-kill")
	if err != nil {
		return err
	}
	defer cl.NC.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ctx, undeny := feed.CancelOnDenied(ctx, cl.NC) // reported below, not printed raw
	defer undeny()
	_, err = cl.Terminate(ctx, feed.TerminateRequest{CallID: id, Reason: reason, Operator: operator()})
	if errors.Is(err, feed.ErrNoOwner) {
		return fmt.Errorf("%s: no agent owns this call (it has ended, or its agent is not connected to %s)", id, nf.redacted())
	}
	if errors.Is(err, feed.ErrPermissionDenied) {
		// Refused by the server at once (a viewer): the call is untouched.
		return fmt.Errorf("%s: %v: hanging up takes a NATS user with the operator role (docs/SECURITY.md)", id, errors.Unwrap(err))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: the agent did not confirm within %s", id, timeout)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s hung up\n", id)
	return nil
}
