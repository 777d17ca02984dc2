package natsserver

import (
	"cmp"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures an embedded NATS server.
type Options struct {
	Host     string // default 127.0.0.1: traffic stays on loopback unless asked
	Port     int    // 0 = 4222; -1 = a free port
	StoreDir string // JetStream store; "" = a temporary directory removed on Shutdown

	// ConfigFile, if set, is a nats-server configuration file (the
	// format of `nats-server -c`, $VARIABLES taken from the environment):
	// users, permissions, TLS, limits, as docs/nats-server.conf shows.
	// The fields above override the file's listen address and JetStream
	// store when set; JetStream is on whatever the file says, with the
	// file's store_dir, else a temporary one.
	ConfigFile string
	// Log, if set, receives the server's log as nats-server writes it:
	// refused logins and permission violations among them, one line
	// each, control characters shown as '?' (clients name themselves).
	// A config file that names a log_file or syslog gets its way
	// instead. Nil: the server is silent.
	Log io.Writer

	// Name is the server's name, "calltop" if empty; members of one
	// cluster need names of their own.
	Name string
	// Cluster, if set, makes the server a member of a JetStream cluster:
	// it listens for routes on Cluster.Port and joins Cluster.Routes.
	Cluster *ClusterOptions
}

// ClusterOptions joins an embedded server to a cluster.
type ClusterOptions struct {
	Name   string   // the cluster's name, the same on every member
	Port   int      // where this member listens for routes
	Routes []string // every member's route URL, nats-route://host:port
}

// Server is an embedded nats-server with JetStream, for the demo,
// `calltop server` and tests.
type Server struct {
	*server.Server
	tmp string
}

// Run starts a NATS server with JetStream and waits until it accepts
// connections.
func Run(o Options) (*Server, error) {
	s := &Server{}
	opts, err := baseOptions(o)
	if err != nil {
		return nil, err
	}
	if opts.StoreDir == "" {
		dir, err := os.MkdirTemp("", "calltop-nats-")
		if err != nil {
			return nil, fmt.Errorf("nats server: store: %w", err)
		}
		opts.StoreDir, s.tmp = dir, dir
	}
	if cl := o.Cluster; cl != nil {
		opts.Cluster = server.ClusterOpts{Name: cl.Name, Host: opts.Host, Port: cl.Port}
		for _, r := range cl.Routes {
			u, err := url.Parse(r)
			if err != nil {
				s.cleanup()
				return nil, fmt.Errorf("nats server: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("nats server: %w", err)
	}
	if o.Log != nil {
		if opts.LogFile != "" || opts.Syslog || opts.RemoteSyslog != "" {
			ns.ConfigureLogger()
		} else {
			ns.SetLoggerV2(&lineLogger{w: o.Log}, opts.Debug, opts.Trace, opts.TraceVerbose)
		}
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		s.cleanup()
		return nil, fmt.Errorf("nats server on %s:%d: not ready after 10s (port in use?)", opts.Host, opts.Port)
	}
	s.Server = ns
	return s, nil
}

// baseOptions are the server's options before the cluster and the store:
// calltop's defaults, or the config file's with o's fields over them.
func baseOptions(o Options) (*server.Options, error) {
	opts := &server.Options{}
	if o.ConfigFile != "" {
		var err error
		if opts, err = server.ProcessConfigFile(o.ConfigFile); err != nil {
			return nil, fmt.Errorf("nats server config %s: %w", o.ConfigFile, err)
		}
	}
	if o.Host != "" || opts.Host == "" {
		opts.Host = cmp.Or(o.Host, "127.0.0.1")
	}
	if o.Port != 0 || opts.Port == 0 {
		opts.Port = cmp.Or(o.Port, 4222)
	}
	if o.StoreDir != "" {
		opts.StoreDir = o.StoreDir
	}
	if o.Name != "" || opts.ServerName == "" {
		opts.ServerName = cmp.Or(o.Name, "calltop")
	}
	opts.JetStream = true // calltop needs it
	opts.NoSigs = true
	opts.NoLog = o.Log == nil
	return opts, nil
}

// Shutdown stops the server and removes a temporary store.
func (s *Server) Shutdown() {
	s.Server.Shutdown()
	s.Server.WaitForShutdown()
	s.cleanup()
}

func (s *Server) cleanup() {
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// StoreDir is where the server keeps JetStream's data.
func (s *Server) StoreDir() string { return s.JetStreamConfig().StoreDir }

// TempStore reports whether the store is a temporary directory that
// Shutdown removes.
func (s *Server) TempStore() bool { return s.tmp != "" }
