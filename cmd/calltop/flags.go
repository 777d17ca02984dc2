package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/calltop/calltop/feed"
)

// natsFlags are the connection settings every NATS client command shares:
// flag, environment variable and default in one place.
type natsFlags struct {
	url      string
	prefix   string
	replicas int
}

func (n *natsFlags) register(fs *flag.FlagSet) {
	// The URL may carry credentials: it defaults from the environment in
	// connect, so -h never prints it.
	fs.StringVar(&n.url, "nats", "", "NATS server URL (env NATS_URL; default "+defaultNATS+")")
	fs.StringVar(&n.prefix, "prefix", envOr("CALLTOP_PREFIX", feed.DefaultPrefix), "subject prefix, to share one NATS between installs (env CALLTOP_PREFIX)")
	reps, _ := strconv.Atoi(os.Getenv("CALLTOP_REPLICAS"))
	fs.IntVar(&n.replicas, "replicas", max(reps, 1), "copies a NATS cluster keeps of the streams and buckets calltop creates: 1, or 3 to survive losing a node (env CALLTOP_REPLICAS)")
}

// defaultNATS is where a local NATS listens.
const defaultNATS = "nats://127.0.0.1:4222"

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
		n.url = envOr("NATS_URL", defaultNATS)
	}
	nc, err := feed.Connect(n.url, name)
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

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// newFlagSet returns a flag set that prints errors and usage to stderr and
// returns errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("calltop "+name, flag.ContinueOnError)
	fs.SetOutput(printableWriter{stderr})
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: calltop %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, mapping a bad flag to errUsage (the flag package has
// already said what was wrong) and refusing stray arguments.
func parse(fs *flag.FlagSet, args []string, maxArgs int) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if fs.NArg() > maxArgs {
		fmt.Fprintf(fs.Output(), "calltop: unexpected argument %q\n", fs.Arg(maxArgs))
		fs.Usage()
		return errUsage
	}
	return nil
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

// redacted is the NATS URL fit for messages and logs.
func (n *natsFlags) redacted() string { return feed.RedactURL(n.url) }

// parseInterspersed parses flags wherever they are among the arguments
// ("credits add bob -2 --nats URL") and returns the others in order. An
// argument that reads as a number is an argument, not a flag, so negative
// amounts need no "--".
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		for len(args) > 0 && !looksLikeFlag(args[0]) {
			pos, args = append(pos, args[0]), args[1:]
		}
		if len(args) == 0 {
			return pos, nil
		}
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return nil, err
			}
			return nil, errUsage
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		args = rest
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

// printableWriter passes what the flag package writes through
// feed.Printable, keeping its newlines and tabs: it quotes a mistyped flag
// name raw ("flag provided but not defined: -…").
type printableWriter struct{ w io.Writer }

func (p printableWriter) Write(b []byte) (int, error) {
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		cells := strings.Split(line, "\t")
		for j, c := range cells {
			cells[j] = feed.Printable(c)
		}
		lines[i] = strings.Join(cells, "\t")
	}
	if _, err := io.WriteString(p.w, strings.Join(lines, "\n")); err != nil {
		return 0, err
	}
	return len(b), nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }
