// Package feedtest makes call events for benchmarks and measurements: a
// steady state of n live calls and, frame by frame, 20,000 events a second
// of every kind an agent publishes (usage, starts with their session
// events, ends, sidebands dropping and coming back, flags, warnings,
// heartbeats), deterministic for a start time. The dashboard's
// BenchmarkFrame folds it in memory; the SSH measurement publishes it to
// NATS on the wall clock. It also writes the files of a secured NATS
// (TLS certificates, an nkey user, an operator's JWTs and a .creds file)
// for the tests of the security options. Like agent/realtimetest it is a
// stand-in for the world, not a mock of calltop.
package feedtest
