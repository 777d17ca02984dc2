package realtimetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// sdpAnswer returns a plausible WebRTC SDP answer for an offer: an ICE-lite
// answer with an Opus audio section and, if offered, the data channel.
// Nothing ever connects to it; it only has to parse.
func sdpAnswer(offer string) string {
	mids := []string{}
	hasData := strings.Contains(offer, "m=application")
	for _, line := range strings.Split(offer, "\n") {
		if mid, ok := strings.CutPrefix(strings.TrimSpace(line), "a=mid:"); ok {
			mids = append(mids, mid)
		}
	}
	if len(mids) == 0 {
		mids = []string{"0"}
		if hasData {
			mids = append(mids, "1")
		}
	}
	var fp []string
	for range 32 {
		fp = append(fp, fmt.Sprintf("%02X", rand.IntN(256)))
	}
	ufrag, pwd := randFrom(alnum, 8), randFrom(alnum, 24)

	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format, args...)
		b.WriteString("\r\n")
	}
	line("v=0")
	line("o=- %d %d IN IP4 0.0.0.0", rand.Int64(), rand.Int64N(1000)+1)
	line("s=-")
	line("t=0 0")
	line("a=ice-lite")
	line("a=msid-semantic:WMS *")
	line("a=fingerprint:sha-256 %s", strings.Join(fp, ":"))
	line("a=group:BUNDLE %s", strings.Join(mids, " "))
	line("m=audio 3478 UDP/TLS/RTP/SAVPF 111")
	line("c=IN IP4 127.0.0.1")
	line("a=rtcp:3478 IN IP4 127.0.0.1")
	line("a=candidate:1 1 udp 2130706431 127.0.0.1 3478 typ host")
	line("a=ice-ufrag:%s", ufrag)
	line("a=ice-pwd:%s", pwd)
	line("a=setup:passive")
	line("a=mid:%s", mids[0])
	line("a=sendrecv")
	line("a=msid:realtime audio")
	line("a=rtcp-mux")
	line("a=rtpmap:111 opus/48000/2")
	line("a=fmtp:111 minptime=10;useinbandfec=1")
	line("a=ssrc:%d cname:realtime", rand.Uint32())
	if hasData && len(mids) > 1 {
		line("m=application 3478 UDP/DTLS/SCTP webrtc-datachannel")
		line("c=IN IP4 127.0.0.1")
		line("a=ice-ufrag:%s", ufrag)
		line("a=ice-pwd:%s", pwd)
		line("a=setup:passive")
		line("a=mid:%s", mids[1])
		line("a=sctp-port:5000")
		line("a=max-message-size:1073741823")
	}
	return b.String()
}
