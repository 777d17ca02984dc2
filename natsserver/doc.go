// Package natsserver runs an embedded nats-server with JetStream: the
// demo's NATS, `calltop server`, and the real servers (clusters too) the
// tests start. It lives apart from package feed so that a backend that
// embeds the agent links only the NATS client: importing natsserver links
// the whole server, which only cmd/calltop and tests should do.
package natsserver
