// Package feed is the only contract between calltop's agents and its
// dashboards: the versioned event schema, the NATS subject layout, helpers to
// publish, watch and terminate, the Board that folds events into the set of
// live and recently ended calls, and Connect, which dials NATS with the
// standard client security options (Security: creds, nkey, TLS). The
// embedded NATS server is package natsserver, so embedders never link it.
//
// Agents publish every event of a call on a core NATS subject
// (<prefix>.v1.call.<call_id>.<kind>); a JetStream stream captures them, so a
// dashboard started late replays the last event of each subject (a snapshot
// of every live call) and then follows live traffic on the same consumer.
// Usage and ended events carry the call's cumulative totals and a per-call
// sequence number, so a lost or reordered message never corrupts a total: the
// newest sequence wins.
//
// A terminate request travels the other way as NATS request/reply on
// <prefix>.v1.ctl.<call_id>.terminate, which only the owning agent
// subscribes to; "no responders" therefore means "no agent owns this call".
package feed
