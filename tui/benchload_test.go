package tui

import (
	"time"

	"github.com/calltop/calltop/feed/feedtest"
)

// The dashboard benchmark's load is feedtest.Load (feed/feedtest), shared
// with the SSH measurement: 20,000 events a second of every kind at n
// live calls, one batch per frame at 60 frames a second, from a pinned
// clock so every run folds the same frames.
const benchFPS = feedtest.FPS

// benchStart is the load's clock at its first frame.
var benchStart = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

func newFrameLoad(n int) *feedtest.Load { return feedtest.NewLoad(n, benchStart) }
