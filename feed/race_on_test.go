//go:build race

package feed

// raceOn: the race detector slows the embedded NATS server too, ten times
// or more, so load tests scale their load down to what it can serve.
const raceOn = true
