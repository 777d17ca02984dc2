package feed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Live-state stream settings. It keeps the newest message of every
// subject, so what it holds grows with calls, never with call-minutes: a
// dashboard started late gets every live call's started, session, usage,
// sideband state, flags and warnings at any scale. Six hours is longer
// than any call (Realtime: 60 minutes, GPT-Live: 2 hours), and a call that
// ends is purged down to its ended event, which holds everything.
const (
	liveMaxAge     = 6 * time.Hour
	liveMaxBytes   = 256 << 20
	liveDuplicates = 2 * time.Minute
	liveDesc       = "calltop call events: the live state, newest message per subject"
)

// Final-records stream settings: one record per call, kept for billing
// and history. About 1 KiB a record: 1 GiB holds about a million calls.
// JetStream reserves MaxBytes up front, so it stays modest; create the
// stream yourself for other limits (EnsureFinalStream keeps an existing
// one).
const (
	finalMaxAge   = 400 * 24 * time.Hour
	finalMaxBytes = 1 << 30
	finalDesc     = "calltop final call records, one per call"
)

func (c *Client) replicas() int { return max(c.Replicas, 1) }

// EnsureStream creates the live-state stream if it does not exist. An
// existing stream keeps the operator's limits; one made by an older
// calltop (which kept every message) is upgraded in place to keep one
// message per subject, and gains any subject this version adds.
func (c *Client) EnsureStream(ctx context.Context) (jetstream.Stream, error) {
	return c.ensureStream(ctx, jetstream.StreamConfig{
		Name:              c.Subjects.Stream(),
		Description:       liveDesc,
		Subjects:          c.Subjects.Stored(),
		Storage:           jetstream.FileStorage,
		MaxAge:            liveMaxAge,
		MaxBytes:          liveMaxBytes,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		Duplicates:        liveDuplicates,
		Replicas:          c.replicas(),
		AllowDirect:       true,
	})
}

// EnsureFinalStream creates the final-records stream if it does not
// exist; an existing one is left as it is.
func (c *Client) EnsureFinalStream(ctx context.Context) (jetstream.Stream, error) {
	return c.ensureStream(ctx, jetstream.StreamConfig{
		Name:        c.Subjects.FinalStream(),
		Description: finalDesc,
		Subjects:    []string{c.Subjects.Finals()},
		Storage:     jetstream.FileStorage,
		MaxAge:      finalMaxAge,
		MaxBytes:    finalMaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  liveDuplicates,
		Replicas:    c.replicas(),
		AllowDirect: true,
	})
}

func (c *Client) ensureStream(ctx context.Context, want jetstream.StreamConfig) (jetstream.Stream, error) {
	js, err := jetstream.New(c.NC)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s, err := js.Stream(ctx, want.Name)
	if err == nil {
		return upgradeStream(ctx, js, s, want)
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("look up stream %s (is JetStream enabled on the server?): %w", want.Name, err)
	}
	s, err = js.CreateStream(ctx, want)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.Stream(ctx, want.Name) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", want.Name, err)
	}
	return s, nil
}

// upgradeStream adds the subjects this version stores to an existing
// stream that lacks them, makes a live-state stream made by an older
// calltop keep one message per subject, and allows direct gets, changing
// nothing else of the operator's settings.
func upgradeStream(ctx context.Context, js jetstream.JetStream, s jetstream.Stream, want jetstream.StreamConfig) (jetstream.Stream, error) {
	cfg := s.CachedInfo().Config
	changed := false
	for _, subj := range want.Subjects {
		if !slices.Contains(cfg.Subjects, subj) {
			cfg.Subjects = append(cfg.Subjects, subj)
			changed = true
		}
	}
	if want.MaxMsgsPerSubject == 1 && cfg.MaxMsgsPerSubject != 1 && cfg.Description == "calltop call events" {
		cfg.MaxMsgsPerSubject, cfg.Description = 1, want.Description
		changed = true
	}
	if want.AllowDirect && !cfg.AllowDirect {
		cfg.AllowDirect = true // lookups by call read with one request, no consumer
		changed = true
	}
	if !changed {
		return s, nil
	}
	s, err := js.UpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("update stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// PurgeCall drops the stored events of an ended call that came before
// its ended event (stream sequence endedSeq), which holds the call's full
// record, so the live-state stream does not grow with calls that are
// over.
func (c *Client) PurgeCall(ctx context.Context, callID string, endedSeq uint64) error {
	if err := ValidateCallID(callID); err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	js, err := jetstream.New(c.NC)
	if err != nil {
		return fmt.Errorf("purge %s: %w", callID, err)
	}
	s, err := js.Stream(ctx, c.Subjects.Stream())
	if err != nil {
		return fmt.Errorf("purge %s: %w", callID, err)
	}
	if err := s.Purge(ctx, jetstream.WithPurgeSubject(c.Subjects.CallEvents(callID)), jetstream.WithPurgeSequence(endedSeq)); err != nil {
		return fmt.Errorf("purge %s: %w", callID, err)
	}
	return nil
}
