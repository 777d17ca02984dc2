package natsserver

import (
	"fmt"
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
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = 4222
	}
	if o.StoreDir == "" {
		dir, err := os.MkdirTemp("", "calltop-nats-")
		if err != nil {
			return nil, fmt.Errorf("nats server: store: %w", err)
		}
		o.StoreDir, s.tmp = dir, dir
	}
	if o.Name == "" {
		o.Name = "calltop"
	}
	opts := &server.Options{
		ServerName: o.Name,
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	}
	if cl := o.Cluster; cl != nil {
		opts.Cluster = server.ClusterOpts{Name: cl.Name, Host: o.Host, Port: cl.Port}
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
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		s.cleanup()
		return nil, fmt.Errorf("nats server on %s:%d: not ready after 10s (port in use?)", o.Host, o.Port)
	}
	s.Server = ns
	return s, nil
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
