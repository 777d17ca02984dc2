//go:build !race

package realtimetest

const raceEnabled = false
