package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/calltop/calltop/agent/realtimetest"
	"github.com/calltop/calltop/feed"
)

// sampleOffer is a minimal SDP offer the stand-in accepts at
// POST /v1/realtime/calls, so the relay can be tried without a browser
// (the stand-in has no media: nothing connects to it).
const sampleOffer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n"

// standinFlags are `calltop standin`'s settings.
type standinFlags struct {
	listen     string
	turnGap    time.Duration
	writeOffer string
}

// standinCmd runs the OpenAI stand-in the demo and the tests use
// (agent/realtimetest) on its own, so a newcomer can try the sidecar, the
// relay and budgets without an OpenAI key or bill.
func standinCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "standin [flags]",
		Short: "an OpenAI stand-in on loopback: try calltop agent, the relay and budgets without an OpenAI key",
		Long: "An OpenAI stand-in on loopback: the Realtime and GPT-Live call-control API that\n" +
			"calltop demo and calltop's tests run against, on its own. Calls created through it\n" +
			"(POST /v1/relay on a sidecar, client secrets) talk by script until hung up, so they\n" +
			"use tokens, cost money (on paper) and hit budgets. Nothing reaches OpenAI.\n\n" +
			"It prints the OPENAI_BASE_URL and OPENAI_API_KEY to export for calltop agent;\n" +
			"its output is a shell script (the rest are # comments). Runs until ctrl+c.",
		Example: "  calltop standin --write-offer offer.sdp &\n" +
			"  export OPENAI_BASE_URL=http://127.0.0.1:8090/v1 OPENAI_API_KEY=sk-realtimetest\n" +
			"  calltop agent --listen 127.0.0.1:8787 &\n" +
			"  curl -s -X POST 'http://127.0.0.1:8787/v1/relay?user=alice' --data-binary @offer.sdp",
		Args: noArgs,
	}
	fs := cmd.Flags()
	var f standinFlags
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8090", "loopback `address` to serve on (port 0: a free one)")
	fs.DurationVar(&f.turnGap, "turn-gap", 300*time.Millisecond, "pause between a call's turns; a turn's other delays scale with it (lower: calls spend faster)")
	fs.StringVar(&f.writeOffer, "write-offer", "", "write a sample SDP offer for POST /v1/relay to this `file`")
	_ = cobra.MarkFlagFilename(fs, "write-offer", "sdp")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return runStandin(cmd.Context(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
	}
	return cmd
}

func runStandin(ctx context.Context, f *standinFlags, stdout, stderr io.Writer) error {
	if !loopback(f.listen) {
		return usagef("--listen %s: want a loopback address such as 127.0.0.1:8090 (the stand-in accepts a well-known key)", f.listen)
	}
	if f.turnGap <= 0 {
		return usagef("--turn-gap %s: want a duration > 0 such as 300ms", f.turnGap)
	}
	if f.writeOffer != "" {
		if err := os.WriteFile(f.writeOffer, []byte(sampleOffer), 0o644); err != nil {
			return fmt.Errorf("--write-offer: %w", err)
		}
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w (another calltop standin? pick another address, or port 0 for a free one)", f.listen, err)
	}
	srv := realtimetest.NewServer(realtimetest.Options{
		Listener: ln,
		TurnGap:  f.turnGap,
		OnHangup: func(id string, status int) {
			fmt.Fprintf(stderr, "calltop standin: hangup %s: %d\n", feed.Printable(id), status)
		},
	})
	defer srv.Close()
	fmt.Fprintf(stdout, "# calltop standin: an OpenAI stand-in on %s; nothing reaches OpenAI, ctrl+c stops it.\n", srv.BaseURL())
	fmt.Fprintf(stdout, "# Calls made through it talk by script (a turn every %s) until hung up. For calltop agent:\n", f.turnGap)
	fmt.Fprintf(stdout, "export OPENAI_BASE_URL=%s\n", srv.BaseURL())
	fmt.Fprintf(stdout, "export OPENAI_API_KEY=%s\n", srv.APIKey())
	if f.writeOffer != "" {
		fmt.Fprintf(stdout, "# A sample SDP offer is in %s: curl -X POST 'http://127.0.0.1:8787/v1/relay?user=alice' --data-binary @%s\n",
			feed.Printable(f.writeOffer), feed.Printable(f.writeOffer))
	} else {
		fmt.Fprintln(stdout, "# --write-offer offer.sdp writes a sample SDP offer for the sidecar's POST /v1/relay.")
	}
	<-ctx.Done()
	return nil
}
