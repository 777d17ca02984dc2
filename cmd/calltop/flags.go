package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/calltop/calltop/feed"
)

// natsFlags are the connection settings every NATS client command shares:
// the server, the subject prefix, and how the client authenticates and
// checks the server (the nats CLI's options and variables).
type natsFlags struct {
	url      string
	prefix   string
	replicas int
	security feed.Security
}

// defaultNATS is where a local NATS listens.
const defaultNATS = "nats://127.0.0.1:4222"

func (n *natsFlags) register(fs *pflag.FlagSet) {
	inGroup(fs, "nats", func() { n.registerFlags(fs) })
}

func (n *natsFlags) registerFlags(fs *pflag.FlagSet) {
	fs.StringVar(&n.url, "nats", defaultNATS, "NATS server `URL`s, comma-separated; user:password@ or token@ in a URL authenticate")
	env(fs, "nats", "NATS_URL")
	fs.StringVar(&n.prefix, "prefix", feed.DefaultPrefix, "subject prefix, to share one NATS between installs")
	env(fs, "prefix", "CALLTOP_PREFIX")
	fs.IntVar(&n.replicas, "replicas", 1, "copies a NATS cluster keeps of the streams and buckets calltop creates: 1, or 3 to survive losing a node")
	env(fs, "replicas", "CALLTOP_REPLICAS")
	for _, f := range []struct {
		dst         *string
		name, usage string
		variable    string
	}{
		{&n.security.Creds, "creds", "NATS user credentials `file` (a user JWT and its nkey seed, as nsc writes it)", "NATS_CREDS"},
		{&n.security.NKey, "nkey", "NATS user nkey seed `file`", "NATS_NKEY"},
		{&n.security.CA, "tls-ca", "PEM `file` of the CA certificates that sign the NATS server's (turns TLS on)", "NATS_CA"},
		{&n.security.Cert, "tls-cert", "PEM client certificate `file`, for a NATS server that verifies clients (with --tls-key)", "NATS_CERT"},
		{&n.security.Key, "tls-key", "PEM `file` of the client certificate's private key", "NATS_KEY"},
	} {
		fs.StringVar(f.dst, f.name, "", f.usage)
		env(fs, f.name, f.variable)
		_ = cobra.MarkFlagFilename(fs, f.name)
	}
}

// connect dials NATS and returns a feed client; the caller closes cl.NC.
func (n *natsFlags) connect(name string) (*feed.Client, error) {
	if _, err := feed.NewSubjects(n.prefix); err != nil {
		return nil, err
	}
	if n.replicas == 0 {
		n.replicas = 1 // not registered as flags (the demo's own NATS)
	}
	if n.replicas < 1 || n.replicas > 5 {
		return nil, fmt.Errorf("--replicas %d: want 1 to 5 (3 in a three-node cluster)", n.replicas)
	}
	if n.url == "" {
		n.url = defaultNATS
	}
	opts, err := n.security.Options()
	if err != nil {
		return nil, err
	}
	nc, err := feed.Connect(n.url, name, opts...)
	if err != nil {
		return nil, err
	}
	cl, err := feed.NewClient(nc, n.prefix)
	if err != nil {
		nc.Close()
		return nil, err
	}
	cl.Replicas = n.replicas
	return cl, nil
}

// redacted is the NATS URL fit for messages and logs.
func (n *natsFlags) redacted() string { return feed.RedactURL(n.url) }

// envAnnotation holds, on a flag, the environment variable it defaults
// from.
const envAnnotation = "calltop_env"

// env ties the flag name of fs to an environment variable: -h says so,
// and the variable's value applies when the flag is not on the command
// line. It is read after parsing (applyEnv), so -h shows the built-in
// default, never a secret taken from the environment, and fs.Changed
// still tells what the command line gave. A repeatable flag takes a
// comma-separated list.
func env(fs *pflag.FlagSet, name, variable string) {
	f := fs.Lookup(name)
	f.Usage += " (env " + variable + ")"
	_ = fs.SetAnnotation(name, envAnnotation, []string{variable})
}

// applyEnv sets every flag of fs tied to an environment variable, and not
// given on the command line, from that variable if it is set and not
// empty. A value that does not parse (CALLTOP_REPLICAS=three) is a usage
// error naming the variable.
func applyEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		vars := f.Annotations[envAnnotation]
		if f.Changed || len(vars) == 0 {
			return
		}
		v := os.Getenv(vars[0])
		if v == "" {
			return
		}
		var err error
		if list, ok := f.Value.(pflag.SliceValue); ok {
			err = list.Replace(strings.Split(v, ","))
		} else {
			err = f.Value.Set(v)
		}
		if err != nil {
			// Only a number, bool or duration fails to parse: never a
			// secret, so the value may be quoted.
			errs = append(errs, fmt.Errorf("%s=%q: not a valid %s for --%s", vars[0], v, f.Value.Type(), f.Name))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return &usageError{err: err}
	}
	return nil
}

// usageError is a mistake in how a command was called: exit code 2, and
// a pointer to -h, or the usage itself if showUsage.
type usageError struct {
	err       error
	showUsage bool
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error.
func usagef(format string, a ...any) error {
	return &usageError{err: fmt.Errorf(format, a...)}
}

// flagError makes pflag's parse errors usage errors. pflag has no
// single-dash long flags: "-nats" reads as the shorthands n, a, t, s, so
// the error says which flag was meant.
func flagError(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if errors.As(err, &ne) {
		name, _, _ := strings.Cut(ne.GetSpecifiedShortnames(), "=")
		if len(name) > 1 && cmd.Flags().Lookup(name) != nil {
			return usagef("-%s: flags take two dashes: --%s", name, name)
		}
	}
	return usagef("%w (%s -h lists the flags)", err, cmd.CommandPath())
}

// noArgs is Args for a command that takes no argument.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

// exactArgs is Args for a command that takes n arguments, what names
// them ("USER USD").
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			got := ""
			if len(args) > 0 {
				got = " (" + strings.Join(args, " ") + ")"
			}
			return &usageError{err: fmt.Errorf("want %d arguments, %s, got %d%s", n, what, len(args), got), showUsage: true}
		}
		return nil
	}
}

// negativeNumbers lets cmd take arguments that read as negative numbers
// ("credits add bob -2"), which pflag would take for shorthand flags: cmd
// parses its own flags, wherever they are among the arguments, and an
// argument that reads as a number is an argument, so negative amounts
// need no "--". Call it once cmd's Args and RunE are set.
func negativeNumbers(cmd *cobra.Command) {
	cmd.DisableFlagParsing = true
	check, body := cmd.Args, cmd.RunE
	cmd.Args = nil // checked below, on the arguments without the flags
	cmd.RunE = func(c *cobra.Command, raw []string) error {
		fs := c.Flags()
		args, err := parseInterspersed(fs, raw)
		if err != nil {
			return flagError(c, err)
		}
		if help, _ := fs.GetBool("help"); help {
			return c.Help()
		}
		if err := applyEnv(fs); err != nil {
			return err
		}
		if check != nil {
			if err := check(c, args); err != nil {
				return err
			}
		}
		return body(c, args)
	}
}

// parseInterspersed parses flags wherever they are among the arguments
// and returns the others in order; everything after "--" is an argument.
func parseInterspersed(fs *pflag.FlagSet, args []string) ([]string, error) {
	fs.SetInterspersed(false) // stop at each argument; the loop takes it
	var pos []string
	for {
		for len(args) > 0 && !looksLikeFlag(args[0]) {
			pos, args = append(pos, args[0]), args[1:]
		}
		if len(args) == 0 {
			return pos, nil
		}
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.ArgsLenAtDash() >= 0 {
			return append(pos, fs.Args()...), nil
		}
		args = fs.Args()
	}
}

func looksLikeFlag(a string) bool {
	if len(a) < 2 || a[0] != '-' {
		return false
	}
	if a == "--" {
		return true
	}
	_, err := strconv.ParseFloat(strings.Replace(a, "$", "", 1), 64)
	return err != nil
}

// operator names the person at this terminal as user@host, sent with every
// terminate so the ended event says who hung up.
func operator() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	host, _ := os.Hostname()
	if i := strings.IndexByte(host, '.'); i > 0 {
		host = host[:i]
	}
	return name + "@" + host
}
