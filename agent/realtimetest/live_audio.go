package realtimetest

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"sync"
)

const (
	// audioFrameBytes is 20 ms of PCM16 mono at 24 kHz: 480 samples.
	audioFrameBytes = 960
	audioFrameCount = 8
)

// audioFrames are ready-made session.input_audio.append frames: a quiet
// voice-like hum, different in each frame, so a client that decodes the
// base64 gets plausible PCM. Built once; reflected audio costs a write, not
// an encoding.
var audioFrames = sync.OnceValue(func() [][]byte {
	frames := make([][]byte, audioFrameCount)
	pcm := make([]byte, audioFrameBytes)
	for f := range frames {
		for i := range audioFrameBytes / 2 {
			t := float64(f*audioFrameBytes/2+i) / 24000
			v := 1800*math.Sin(2*math.Pi*140*t) + 700*math.Sin(2*math.Pi*420*t+float64(f))
			binary.LittleEndian.PutUint16(pcm[2*i:], uint16(int16(v)))
		}
		// No event_id: reflected audio is the client command's shape.
		frames[f] = encodeObject([]kv{{"type", "session.input_audio.append"},
			{"audio", base64.StdEncoding.EncodeToString(pcm)}})
	}
	return frames
})

// audio reflects one frame of the caller's audio to the sidebands.
func (r *liveRunner) audio() {
	frame := audioFrames()[r.audioSeq%audioFrameCount]
	r.audioSeq++
	st := r.st
	r.s.broadcastCounted(r.c, "session.input_audio.append", frame, func(sign int) { st.audioFrames += sign })
}
