package feed

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The audit trail answers "who hung up what, and who changed whose
// credits": one record per terminate request and per credits change,
// written by whoever executed it (the agent that hung up, the command that
// changed the balance, the requester that found no owner), in an
// append-only stream that refuses deletes and purges.

// AuditVersion is the version of the audit record's schema
// (docs/EVENTS.md).
const AuditVersion = 1

// AuditAction is what a record is about.
type AuditAction string

// Audit actions.
const (
	AuditTerminate AuditAction = "terminate" // a hangup asked of a call
	AuditCredits   AuditAction = "credits"   // a user's balance set or changed
)

// Outcome is how an audited action went.
type Outcome string

// Outcomes. A terminate is done when OpenAI confirmed the hangup; already
// ended when the call was over before it (the agent had ended it, OpenAI
// answered 404/410, or only its final record was left); no owner when no
// agent tracks the call; OpenAI error when OpenAI refused or failed the
// hangup (the call goes on; a policy cut tries again). Failed is anything
// else (a bad request, NATS, a credit store refusal).
const (
	OutcomeDone         Outcome = "done"
	OutcomeAlreadyEnded Outcome = "already ended"
	OutcomeNoOwner      Outcome = "no owner"
	OutcomeOpenAIError  Outcome = "OpenAI error"
	OutcomeFailed       Outcome = "failed"
)

// Who of the actors that are not a person: the app through the agent's
// Go API (the sidecar's HTTP API adds its token's name: "app:<token>"),
// and a policy cut ("policy:<limit>", as CutDetail writes it).
const (
	WhoApp          = "app"
	WhoPolicyPrefix = "policy:"
)

// AuditRecord is one entry of the audit trail. `calltop audit --json`
// writes it as it is stored.
type AuditRecord struct {
	V int `json:"v"`
	// ID is unique per record and its Nats-Msg-Id: a retried publish is
	// stored once.
	ID string `json:"id"`
	// At is when the executor knew the outcome.
	At time.Time `json:"at"`
	// Who asked: the operator identity the terminate carried ("alice@host",
	// an SSH key's comment and fingerprint), "policy:<limit>", "app" or
	// "app:<token>".
	Who    string      `json:"who"`
	Action AuditAction `json:"action"`
	CallID string      `json:"call_id"`
	User   string      `json:"user"`
	// Reason is the requester's words (a terminate's reason; for credits
	// what was done: "set $5.00", "add -$2.50").
	Reason  string  `json:"reason"`
	Outcome Outcome `json:"outcome"`
	// Error is what went wrong, for outcomes other than done.
	Error string `json:"error,omitempty"`
	// CostUSD is the call's cost at that moment (0 for credits, and when
	// the executor could not know it).
	CostUSD float64 `json:"cost_usd"`
	// By is who executed it: "agent <name>" or "calltop <command>".
	By string `json:"by,omitempty"`
	// BalanceUSD is a credits change's resulting balance.
	BalanceUSD *float64 `json:"balance_usd,omitempty"`

	// Seq is the record's stream sequence when read (not stored).
	Seq uint64 `json:"-"`
}

// Audit stream settings: append-only (no delete, no purge, no rollup),
// about 400 bytes a record, kept as long as final records. The duplicate
// window is long because a record waits in an agent's outbox for as long
// as NATS is away; a retry after an hour-long outage whose first try was
// stored could be kept twice (readers can drop a repeated id).
const (
	auditMaxAge     = 400 * 24 * time.Hour
	auditMaxBytes   = 128 << 20
	auditDuplicates = time.Hour
	auditDesc       = "calltop audit trail: terminate requests and credits changes, append-only"
)

// Audit is the subject of a record: by call for a terminate, by user key
// for a credits change.
func (s Subjects) Audit(r *AuditRecord) string {
	if r.Action == AuditCredits {
		return s.prefix() + ".v1.audit.credits." + UserKey(r.User)
	}
	return s.prefix() + ".v1.audit.terminate." + r.CallID
}

// Audits is every audit record's subject.
func (s Subjects) Audits() string { return s.prefix() + ".v1.audit.>" }

// AuditStream is the append-only stream of the audit trail:
// "CALLTOP_AUDIT".
func (s Subjects) AuditStream() string { return s.Stream() + "_AUDIT" }

// EnsureAuditStream creates the audit stream if it does not exist. An
// existing one keeps its limits, but is made to refuse deletes and purges
// if it did not (JetStream lets that be turned on, never off).
func (c *Client) EnsureAuditStream(ctx context.Context) (jetstream.Stream, error) {
	want := jetstream.StreamConfig{
		Name:        c.Subjects.AuditStream(),
		Description: auditDesc,
		Subjects:    []string{c.Subjects.Audits()},
		Storage:     jetstream.FileStorage,
		MaxAge:      auditMaxAge,
		MaxBytes:    auditMaxBytes,
		Discard:     jetstream.DiscardOld,
		Duplicates:  auditDuplicates,
		Replicas:    c.replicas(),
		AllowDirect: true,
		DenyDelete:  true,
		DenyPurge:   true,
	}
	s, err := c.ensureStream(ctx, want)
	if err != nil {
		return nil, err
	}
	cfg := s.CachedInfo().Config
	if cfg.DenyDelete && cfg.DenyPurge && !cfg.AllowRollup {
		return s, nil
	}
	js, err := jetstream.New(c.NC)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	cfg.DenyDelete, cfg.DenyPurge, cfg.AllowRollup = true, true, false
	if s, err = js.UpdateStream(ctx, cfg); err != nil {
		return nil, fmt.Errorf("make stream %s append-only: %w", cfg.Name, err)
	}
	return s, nil
}

// check verifies a record before it is stored.
func (r *AuditRecord) check() error {
	switch r.Action {
	case AuditTerminate:
		if err := ValidateCallID(r.CallID); err != nil {
			return err
		}
	case AuditCredits:
		if r.User == "" {
			return errors.New("credits record without a user")
		}
	default:
		return fmt.Errorf("action %q: want %q or %q", r.Action, AuditTerminate, AuditCredits)
	}
	if r.Who == "" {
		return errors.New("record without who")
	}
	if r.Outcome == "" {
		return errors.New("record without an outcome")
	}
	return nil
}

// AuditMessage stamps r (version, a fresh ID, the time if unset) and
// encodes it with its Nats-Msg-Id.
func (c *Client) AuditMessage(r AuditRecord) (*nats.Msg, error) {
	r.V = AuditVersion
	if r.ID == "" {
		r.ID = rand.Text()
	}
	if r.At.IsZero() {
		r.At = time.Now().UTC()
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("audit record: %w", err)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("audit record: %w", err)
	}
	msg := &nats.Msg{Subject: c.Subjects.Audit(&r), Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, "audit."+r.ID)
	return msg, nil
}

// AuditStep is an Outbox step that stores an audit message (from
// AuditMessage) and waits for the stream's acknowledgement, creating the
// audit stream when it is missing. An agent queues it in its outbox, so a
// record made while NATS is down is stored once NATS is back.
func (c *Client) AuditStep(msg *nats.Msg) Step {
	return func(ctx context.Context) error {
		js, err := jetstream.New(c.NC)
		if err != nil {
			return err
		}
		_, err = js.PublishMsg(ctx, msg)
		if err == nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			if _, e := c.EnsureAuditStream(ctx); e != nil {
				return fmt.Errorf("audit %s: %w (creating the audit stream: %v)", msg.Subject, err, e)
			}
			if _, err = js.PublishMsg(ctx, msg); err == nil {
				return nil
			}
		}
		return fmt.Errorf("audit %s: %w", msg.Subject, err)
	}
}

// Audit stores r and waits for the acknowledgement, retrying until ctx
// ends: for a command, which has no outbox and exits once done. An agent
// uses AuditStep through its Outbox instead.
func (c *Client) Audit(ctx context.Context, r AuditRecord) error {
	msg, err := c.AuditMessage(r)
	if err != nil {
		return err
	}
	step := c.AuditStep(msg)
	backoff := 50 * time.Millisecond
	for {
		try, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = step(try)
		cancel()
		if err == nil {
			return nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("audit record not stored: %w", err)
		}
		backoff = min(2*backoff, time.Second)
	}
}

// TerminateWho is who a terminate request came from, as the audit trail
// names it: the operator it carried, or "app:<token>" for the app's
// backend through the sidecar.
func TerminateWho(req TerminateRequest) string {
	if req.EndReason == ReasonApp {
		if req.Operator == "" {
			return WhoApp
		}
		return WhoApp + ":" + req.Operator
	}
	if req.Operator == "" {
		return "operator"
	}
	return req.Operator
}

// auditUnanswered records a terminate nobody answered: "already ended"
// with the call's final cost when its final record is stored, else "no
// owner". The requester writes it, as no agent executed anything. Its
// error is the record's, not the terminate's.
func (c *Client) auditUnanswered(req TerminateRequest) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r := AuditRecord{Who: TerminateWho(req), Action: AuditTerminate, CallID: req.CallID, Reason: req.Reason,
		Outcome: OutcomeNoOwner, Error: ErrNoOwner.Error(), By: c.NC.Opts.Name}
	if e, ok, err := c.Final(ctx, req.CallID); err == nil && ok {
		r.Outcome, r.Error = OutcomeAlreadyEnded, ""
		if e.Start != nil {
			r.User = e.Start.User
		}
		if e.Usage != nil {
			r.CostUSD = e.Usage.CostUSD
		}
	}
	return c.Audit(ctx, r)
}

// AuditQuery selects records. Zero values select everything.
type AuditQuery struct {
	// Since keeps records stored at or after it.
	Since time.Time
	// After keeps records after this stream sequence (the Seq of the last
	// record read), for reading on where a reader stopped.
	After uint64
	// Last keeps at most the newest Last records (0: all).
	Last int
}

// EachAudit calls fn with every selected record, oldest first, reading
// with direct gets (no consumer left behind; a viewer only needs to read
// the stream). A missing stream holds no records. A record that does not
// decode is skipped: the trail is read by tools that must not stop at one
// bad entry.
func (c *Client) EachAudit(ctx context.Context, q AuditQuery, fn func(AuditRecord) error) error {
	stream, filter := c.Subjects.AuditStream(), c.Subjects.Audits()
	next := q.After + 1
	if q.Last > 0 {
		msgs, _, err := c.direct(ctx, stream, directReq{LastBySubj: filter})
		if errors.Is(err, errDirectGone) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read audit trail: %w", err)
		}
		if len(msgs) == 0 {
			return nil
		}
		if last := msgSeq(msgs[0]); last >= uint64(q.Last) {
			next = max(next, last-uint64(q.Last)+1)
		}
	}
	req := directReq{Seq: next, NextBySubj: filter, Batch: maxDirectBatch}
	if next == 1 && !q.Since.IsZero() {
		since := q.Since.UTC()
		req.Seq, req.StartTime = 0, &since
	}
	for {
		msgs, more, err := c.direct(ctx, stream, req)
		if errors.Is(err, errDirectGone) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read audit trail: %w", err)
		}
		for _, m := range msgs {
			seq := msgSeq(m)
			req.Seq = max(req.Seq, seq+1)
			var r AuditRecord
			if json.Unmarshal(m.Data, &r) != nil || r.V != AuditVersion {
				continue
			}
			if !q.Since.IsZero() && r.At.Before(q.Since) {
				continue
			}
			r.Seq = seq
			if err := fn(r); err != nil {
				return err
			}
		}
		if !more || len(msgs) == 0 {
			return nil
		}
		req.StartTime = nil
	}
}

// ReadAudit returns the selected records, oldest first.
func (c *Client) ReadAudit(ctx context.Context, q AuditQuery) ([]AuditRecord, error) {
	var out []AuditRecord
	err := c.EachAudit(ctx, q, func(r AuditRecord) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// CreditsAudit is the record of a credits change that left e: op is
// "set" or "add", amount what was set or added, who the operator, by the
// command or service that made the change.
func CreditsAudit(who, by, op string, amount Micros, e CreditEntry) AuditRecord {
	balance := e.Balance.USD()
	return AuditRecord{Who: who, Action: AuditCredits, User: e.User, Reason: op + " " + amount.String(),
		Outcome: OutcomeDone, By: by, BalanceUSD: &balance}
}

// AuditChange records a change made through s in the audit trail (see
// CreditsAudit), with the store's own connection: for the commands that
// change balances, which record what they did once it is done.
func (s *CreditStore) AuditChange(ctx context.Context, who, by, op string, amount Micros, e CreditEntry) error {
	return s.c.Audit(ctx, CreditsAudit(who, by, op, amount, e))
}
