// Command calltop watches and controls OpenAI Realtime calls and GPT-Live sessions from the
// server side: a dashboard (watch, the default), the agent sidecar, a
// self-contained demo, one-shot ls and kill, and a small NATS server.
//
// The commands are built with github.com/spf13/cobra; flags are pflag
// flags, which take two dashes (--nats).
//
// To add a command, write a constructor in the command's own file and add
// it to the list in newRoot, in its group. Register its flags on
// cmd.Flags(): pflag has the methods of package flag (fs.String,
// fs.Duration, fs.Bool …; a repeatable flag is fs.StringArray). Tie a flag
// that a variable may set to it with env(fs, "flag", "VARIABLE"): -h then
// says so, and the variable applies when the flag is not given. Never read
// os.Getenv yourself (TestEnvironmentInOnePlace). A NATS client registers
// natsFlags (server, prefix, security options) and dials with nf.connect.
// Check the arguments with Args (noArgs, exactArgs(2, "USER USD"), or a
// func returning usagef errors):
//
//	func reportCmd() *cobra.Command {
//		cmd := &cobra.Command{Use: "report [flags]", Short: "what each user, model or day cost", Args: noArgs}
//		fs := cmd.Flags()
//		var nf natsFlags
//		nf.register(fs)
//		by := fs.String("by", "user", "group by user, model, agent or day")
//		since := fs.Duration("since", 24*time.Hour, "from this long ago")
//		cmd.RunE = func(cmd *cobra.Command, args []string) error {
//			return runReport(cmd.Context(), &nf, *by, *since, cmd.OutOrStdout())
//		}
//		return cmd
//	}
//
// The body returns an error, which run prints as one line through
// feed.Printable with exit code 1; usagef makes it a usage error (exit 2).
// Its context is cmd.Context(), cancelled by ctrl+c (exit 130); stdout is
// cmd.OutOrStdout(). Flags given on the command line are fs.Changed(name).
// Arguments that may be negative numbers need negativeNumbers(cmd).
//
// Converting an old-style runX(ctx, args, stdout, stderr) error: its
// newFlagSet becomes the cobra.Command and its fs.X(...) lines move into
// the constructor as they are; parse(fs, args, 0) becomes Args: noArgs
// (parseInterspersed: nothing, cobra takes flags anywhere); a message
// printed to stderr before "return errUsage" becomes "return usagef(…)";
// envOr/os.Getenv defaults become env(fs, …); fs.Visit to learn what was
// given becomes fs.Changed; the rest of the body is RunE's. A new flag on
// an existing command (ls --at) is one more fs.X line in its constructor,
// passed on to its runX.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/calltop/calltop/feed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func init() {
	// The commands are listed in the order newRoot gives, most used first.
	cobra.EnableCommandSorting = false
}

// newRoot builds the command tree; every run builds its own, so flags
// never carry over from one run to the next (the tests run many at once).
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "calltop",
		Short: "See, meter and stop OpenAI Realtime calls and GPT-Live sessions from the server side.",
		Long: "calltop: see, meter and stop OpenAI Realtime calls and GPT-Live sessions from the server side.\n\n" +
			"Without a command, calltop runs watch: calltop --nats URL is calltop watch --nats URL.",
		Version:                    versionString(),
		Args:                       unknownCommand,
		SuggestionsMinimumDistance: 2,
		SilenceErrors:              true, // run prints them, one line, printable
		SilenceUsage:               true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.DisableFlagParsing { // negativeNumbers applies it after its own parse
				return nil
			}
			return applyEnv(cmd.Flags())
		},
		// Runnable, so that Args sees an unknown command (run sends a
		// command line without one to watch).
		RunE:                  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		DisableFlagsInUseLine: true,
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(flagError)
	root.AddGroup(
		&cobra.Group{ID: "ops", Title: "Watch and control calls:"},
		&cobra.Group{ID: "run", Title: "Run calltop's parts:"},
	)
	for _, c := range []struct {
		group string
		cmd   *cobra.Command
	}{
		{"ops", watchCmd()},
		{"ops", lsCmd()},
		{"ops", killCmd()},
		{"ops", reportCmd()},
		{"ops", creditsCmd()},
		{"ops", auditCmd()},
		{"run", agentCmd()},
		{"run", serverCmd()},
		{"run", serveCmd()},
		{"run", demoCmd()},
		{"run", standinCmd()},
	} {
		c.cmd.GroupID = c.group
		root.AddCommand(c.cmd)
	}
	root.AddCommand(versionCmd())
	return root
}

// run runs the command args name (watch if none) and returns its exit
// code: 0, 1 for a failure, 2 for a usage error, 130 when ctx was
// cancelled (ctrl+c) under it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && !rootFlag(args[0])) {
		args = append([]string{"watch"}, args...) // the default command
	}
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	var uerr *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return 130
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), feed.Printable(err.Error()))
		if uerr.showUsage {
			fmt.Fprint(stderr, "\n"+cmd.UsageString())
		}
		return 2
	}
	// An error may quote what came from outside (an agent's reply, a
	// user, a file): one line, no control characters.
	fmt.Fprintf(stderr, "%s: %s\n", cmd.CommandPath(), feed.Printable(err.Error()))
	return 1
}

// rootFlag reports whether a is one of the root's own flags, which must
// not be handed to watch.
func rootFlag(a string) bool {
	switch a {
	case "-h", "--help", "-v", "--version":
		return true
	}
	return false
}

// unknownCommand is the root's argument check: it takes none, so an
// argument is a command it does not know.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	} else {
		msg += " (calltop -h lists the commands)"
	}
	return &usageError{err: errors.New(msg)}
}
