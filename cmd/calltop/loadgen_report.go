package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// loadgenSummary is everything a load-generator run measured; --json
// prints it as it is, for scripts.
type loadgenSummary struct {
	Config struct {
		Calls     int     `json:"calls"`
		Seconds   float64 `json:"duration_seconds"`
		TurnGapMS float64 `json:"turn_gap_ms"`
		Agents    int     `json:"agents"`
	} `json:"config"`
	// WindowSeconds is how long calls ran (the duration, or less if the
	// run was interrupted); ElapsedSeconds adds the stop: every call
	// ended, its end and final record stored. Bytes and rates cover the
	// whole elapsed time, latencies the window.
	WindowSeconds  float64 `json:"window_seconds"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	Interrupted    bool    `json:"interrupted,omitempty"`

	Calls    loadgenCalls     `json:"calls"`
	Events   loadgenEvents    `json:"events"`
	NATS     loadgenNATS      `json:"nats"`
	Stream   loadgenJetStream `json:"jetstream"`
	Latency  loadgenLatency   `json:"latency"`
	AgentUse loadgenAgents    `json:"agents"`
}

type loadgenCalls struct {
	Started        int     `json:"started"`         // calls the stand-in created
	Registered     int     `json:"registered"`      // accepted by an agent's POST /v1/calls
	RegisterFailed int     `json:"register_failed"` // refused or unreachable
	Ended          int     `json:"ended"`           // their ended event reached the dashboard
	EndedInWindow  int     `json:"ended_in_window"` // of those, before the stop
	NotSeenEnded   int     `json:"not_seen_ended"`  // registered calls the dashboard never saw end
	LiveAtStop     int     `json:"live_at_stop"`    // live at the stand-in when the window closed
	PeakLive       int     `json:"peak_live"`
	CallMinutes    float64 `json:"call_minutes"`
	FinalRecords   uint64  `json:"final_records"` // in the final-records stream at the end
	RegisterError  string  `json:"register_error,omitempty"`
}

type loadgenEvents struct {
	Messages      int64   `json:"messages"` // under <prefix>.v1.>
	PerSecond     float64 `json:"per_second"`
	PerCallMinute float64 `json:"per_call_minute"`
}

type loadgenNATS struct {
	// Bytes is every message under <prefix>.v1.> as on the wire: subject,
	// headers, payload.
	Bytes              int64   `json:"bytes"`
	BytesPerCallMinute float64 `json:"bytes_per_call_minute"`
	SubjectBytes       int64   `json:"subject_bytes"`
	HeaderBytes        int64   `json:"header_bytes"`
	PayloadBytes       int64   `json:"payload_bytes"`
	// AudioRelay is PCM16 24 kHz both ways per call-minute; Fraction is
	// BytesPerCallMinute over it.
	AudioRelayBytesPerCallMinute int64       `json:"audio_relay_bytes_per_call_minute"`
	FractionOfAudioRelay         float64     `json:"fraction_of_audio_relay"`
	ByKind                       []kindBytes `json:"by_kind"`
	KV                           []kindBytes `json:"kv_writes"` // $KV.> writes, not in Bytes
	Dropped                      int         `json:"dropped"`   // messages the counter lost (should be 0)
}

// kindBytes is one kind's share of the bytes.
type kindBytes struct {
	Kind string `json:"kind"`
	wireBytes
	Bytes              int64   `json:"bytes"`
	BytesPerCallMinute float64 `json:"bytes_per_call_minute"`
	MsgsPerCallMinute  float64 `json:"msgs_per_call_minute"`
	Share              float64 `json:"share"` // of the feed's bytes
}

type loadgenJetStream struct {
	// At the end: the live state holds every ended call's ended event and
	// the agents' newest heartbeats; at the window's end it also held the
	// live calls' newest event of each kind.
	LiveState            streamBytes `json:"live_state"`
	LiveStateAtWindowEnd streamBytes `json:"live_state_at_window_end"`
	Final                streamBytes `json:"final"`
	// History holds every live event of the run (docs/OPERATIONS.md, time
	// travel).
	History streamBytes `json:"history"`
}

type streamBytes struct {
	Stream             string  `json:"stream"`
	Msgs               uint64  `json:"msgs"`
	Bytes              uint64  `json:"bytes"`
	BytesPerCall       float64 `json:"bytes_per_call"`
	BytesPerCallMinute float64 `json:"bytes_per_call_minute"`
}

type loadgenLatency struct {
	PublishToBoard latencyStats `json:"publish_to_board"`
	OpenAIToBoard  latencyStats `json:"openai_to_board"`
	// ResponsesSent counts response.done the stand-in wrote in the window;
	// OpenAIToBoard.Count those the dashboard showed.
	ResponsesSent int `json:"responses_sent"`
}

type loadgenAgents struct {
	Measured                bool         `json:"measured"`
	Why                     string       `json:"why_not,omitempty"`
	CPUSeconds              float64      `json:"cpu_seconds"`
	CPUSecondsPerCallMinute float64      `json:"cpu_seconds_per_call_minute"`
	CPUPercentOfCore        float64      `json:"cpu_percent_of_a_core"`
	RSSBytesPerCall         float64      `json:"rss_bytes_per_call"`
	PerAgent                []agentUsage `json:"per_agent"`
}

type agentUsage struct {
	Name       string  `json:"name"`
	PID        int     `json:"pid"`
	Calls      int     `json:"calls"` // registered with it
	CPUSeconds float64 `json:"cpu_seconds"`
	RSSBefore  int64   `json:"rss_before_calls_bytes"`
	RSSAtStop  int64   `json:"rss_at_window_end_bytes"`
	RSSPeak    int64   `json:"rss_peak_bytes"`
	HeapLiveMB *int    `json:"heap_live_mb,omitempty"` // after its newest GC (GODEBUG=gctrace=1)
	Warnings   int     `json:"log_warnings"`
	Errors     int     `json:"log_errors"`
}

// setBytes fills the NATS section from the counter's totals.
func (n *loadgenNATS) setBytes(byKind, kv map[string]wireBytes, callMinutes float64) {
	var all wireBytes
	for _, w := range byKind {
		all.add(w)
	}
	n.Bytes, n.SubjectBytes, n.HeaderBytes, n.PayloadBytes = all.total(), all.Subject, all.Headers, all.Payload
	n.BytesPerCallMinute = perMinute(float64(n.Bytes), callMinutes)
	n.AudioRelayBytesPerCallMinute = audioRelayPerCallMinute
	n.FractionOfAudioRelay = n.BytesPerCallMinute / audioRelayPerCallMinute
	rows := func(m map[string]wireBytes) []kindBytes {
		out := []kindBytes{}
		for k, w := range m {
			r := kindBytes{Kind: k, wireBytes: w, Bytes: w.total(),
				BytesPerCallMinute: perMinute(float64(w.total()), callMinutes),
				MsgsPerCallMinute:  perMinute(float64(w.Msgs), callMinutes)}
			if n.Bytes > 0 {
				r.Share = float64(r.Bytes) / float64(n.Bytes)
			}
			out = append(out, r)
		}
		slices.SortFunc(out, func(a, b kindBytes) int { return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Kind, b.Kind)) })
		return out
	}
	n.ByKind, n.KV = rows(byKind), rows(kv)
}

func perMinute(x, callMinutes float64) float64 {
	if callMinutes <= 0 {
		return 0
	}
	return x / callMinutes
}

func (s *loadgenSummary) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// writeText prints the summary for a person: the figures first, then the
// bytes by kind, where a wire format's savings show.
func (s *loadgenSummary) writeText(w io.Writer) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	// Every figure's name in a column of its own.
	line := func(name, format string, a ...any) { p("%-15s"+format+"\n", append([]any{name}, a...)...) }
	c := s.Calls
	gap := time.Duration(s.Config.TurnGapMS * float64(time.Millisecond))
	pace := "real time"
	if gap != 300*time.Millisecond {
		pace = fmt.Sprintf("%.3g× real time: per-minute figures are not real-world ones", 300/s.Config.TurnGapMS)
	}
	p("calltop load generator: %d calls for %s, turn gap %s (%s), %d agent process(es)\n",
		s.Config.Calls, time.Duration(s.Config.Seconds*float64(time.Second)), gap, pace, s.Config.Agents)
	if s.Interrupted {
		p("INTERRUPTED after %.1fs: the figures cover what ran\n", s.WindowSeconds)
	}
	p("\n")
	line("calls", "%d started, %d ended (%d during the run, the rest at the stop), peak %d live, %s call-minutes",
		c.Started, c.Ended, c.EndedInWindow, c.PeakLive, num(c.CallMinutes, 2))
	if c.RegisterFailed > 0 || c.NotSeenEnded > 0 {
		line("", "PROBLEMS: %d not registered (%s), %d never seen ending", c.RegisterFailed, c.RegisterError, c.NotSeenEnded)
	}
	line("", "%d final records stored", c.FinalRecords)
	line("events", "%s messages, %s/s, %s per call-minute", num(float64(s.Events.Messages), 0), num(s.Events.PerSecond, 1), num(s.Events.PerCallMinute, 1))
	n := s.NATS
	line("NATS bytes", "%s B in %.0fs: %s B per call-minute", num(float64(n.Bytes), 0), s.ElapsedSeconds, num(n.BytesPerCallMinute, 0))
	line("", "= %.3f%% of relaying the audio (PCM16 24 kHz both ways, %s B per call-minute), %s× less",
		100*n.FractionOfAudioRelay, num(audioRelayPerCallMinute, 0), num(1/max(n.FractionOfAudioRelay, 1e-12), 0))
	if n.Bytes > 0 {
		line("", "subjects %.0f%%, headers %.0f%%, payloads %.0f%%",
			100*float64(n.SubjectBytes)/float64(n.Bytes), 100*float64(n.HeaderBytes)/float64(n.Bytes), 100*float64(n.PayloadBytes)/float64(n.Bytes))
	}
	if n.Dropped > 0 {
		line("", "WARNING: the byte counter dropped %d messages: bytes are under-counted", n.Dropped)
	}
	p("\n")
	width := len("total")
	for _, k := range append(slices.Clone(n.ByKind), n.KV...) {
		width = max(width, len(k.Kind))
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tmsgs\tmsgs/call-min\tbytes\tB/call-min\tshare\tB/msg\tsubject\theaders\tpayload\t\n", width, "kind")
	row := func(k kindBytes, share string) {
		fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", width, k.Kind, num(float64(k.Msgs), 0), num(k.MsgsPerCallMinute, 2),
			num(float64(k.Bytes), 0), num(k.BytesPerCallMinute, 0), share, num(float64(k.Bytes)/float64(max(k.Msgs, 1)), 0),
			num(float64(k.Subject)/float64(max(k.Msgs, 1)), 0), num(float64(k.Headers)/float64(max(k.Msgs, 1)), 0),
			num(float64(k.Payload)/float64(max(k.Msgs, 1)), 0))
	}
	for _, k := range n.ByKind {
		row(k, fmt.Sprintf("%.1f%%", 100*k.Share))
	}
	var total kindBytes
	total.Kind = "total"
	for _, k := range n.ByKind {
		total.add(k.wireBytes)
	}
	total.Bytes, total.BytesPerCallMinute = total.total(), n.BytesPerCallMinute
	total.MsgsPerCallMinute = s.Events.PerCallMinute
	row(total, "100%")
	for _, k := range n.KV {
		row(k, "(not in total)")
	}
	tw.Flush()
	p("(B/msg and the last three columns are bytes per message; kv rows are KV bucket writes, outside the feed's subjects)\n\n")
	js := s.Stream
	line("JetStream", "live state %s: %s B at the end (%s B per call); %s B while %d calls were live",
		js.LiveState.Stream, num(float64(js.LiveState.Bytes), 0), num(js.LiveState.BytesPerCall, 0),
		num(float64(js.LiveStateAtWindowEnd.Bytes), 0), c.LiveAtStop)
	line("", "final records %s: %s B (%s B per call, %s B per call-minute)",
		js.Final.Stream, num(float64(js.Final.Bytes), 0), num(js.Final.BytesPerCall, 0), num(js.Final.BytesPerCallMinute, 0))
	line("", "history %s: %s B, %d messages (%s B per call-minute)",
		js.History.Stream, num(float64(js.History.Bytes), 0), js.History.Msgs, num(js.History.BytesPerCallMinute, 0))
	l := s.Latency
	lat := func(name string, st latencyStats, of string) {
		if st.Count == 0 {
			line(name, "not measured (no samples)")
			return
		}
		line(name, "p50 %s ms  p90 %s ms  p99 %s ms  max %s ms  (%s)", num(st.P50MS, 2), num(st.P90MS, 2), num(st.P99MS, 2), num(st.MaxMS, 2), of)
	}
	lat("publish→board", l.PublishToBoard, fmt.Sprintf("%s events: the agent's publish to the dashboard's Board", num(float64(l.PublishToBoard.Count), 0)))
	lat("OpenAI→board", l.OpenAIToBoard, fmt.Sprintf("%s of %s response.done: the stand-in's write to the Board's usage", num(float64(l.OpenAIToBoard.Count), 0), num(float64(l.ResponsesSent), 0)))
	a := s.AgentUse
	if !a.Measured {
		line("agents", "CPU and memory not measured: %s", a.Why)
	} else {
		line("agents", "CPU %s s per call-minute (%.1f%% of one core), memory %s KiB RSS per call",
			num(a.CPUSecondsPerCallMinute, 4), a.CPUPercentOfCore, num(a.RSSBytesPerCall/1024, 1))
		for _, g := range a.PerAgent {
			heap := "no GC yet"
			if g.HeapLiveMB != nil {
				heap = fmt.Sprintf("%d MB", *g.HeapLiveMB)
			}
			line("", "%s (pid %d): %d calls, CPU %.2fs, RSS %s → %s MiB (peak %s), Go heap after its last GC %s, log %d warnings %d errors",
				g.Name, g.PID, g.Calls, g.CPUSeconds, num(float64(g.RSSBefore)/(1<<20), 1), num(float64(g.RSSAtStop)/(1<<20), 1),
				num(float64(g.RSSPeak)/(1<<20), 1), heap, g.Warnings, g.Errors)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// num formats x with thousands separators and the given decimals.
func num(x float64, decimals int) string {
	s := fmt.Sprintf("%.*f", decimals, x)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var out []byte
	for i := range len(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, intPart[i])
	}
	r := string(out)
	if hasFrac {
		r += "." + frac
	}
	if neg {
		r = "-" + r
	}
	return r
}
