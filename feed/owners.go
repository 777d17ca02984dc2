package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Owner is the ownership record of one live call, the value of its key
// (the call ID) in CallsBucket. Exactly one agent instance owns a call at
// a time: the record is created once, and changes hands only by a
// compare-and-set on its revision, which one writer wins. It holds what
// an agent needs to take a call over when its owner dies: who the call is
// for and when it started, so totals and started_at carry on.
type Owner struct {
	CallID    string    `json:"call_id"`
	Agent     string    `json:"agent"`    // the owner's name, as in events
	Instance  string    `json:"instance"` // the owner's run (see Heartbeat.Instance)
	Term      uint64    `json:"term"`     // 1 for the first owner, +1 per takeover
	User      string    `json:"user,omitempty"`
	Model     string    `json:"model,omitempty"`
	API       API       `json:"api,omitempty"` // empty: Realtime
	StartedAt time.Time `json:"started_at"`
	Since     time.Time `json:"since"` // when this owner took the call
	// Released is set by an owner that stopped cleanly and handed the
	// call over: any agent may take it at once. Usage is the call's
	// totals when it was released, so the next owner carries on exactly.
	Released   bool      `json:"released,omitempty"`
	ReleasedAt time.Time `json:"released_at,omitzero"`
	Usage      *Usage    `json:"usage,omitempty"`
}

// OwnedError is returned when a call already has an owner.
type OwnedError struct {
	Owner Owner
	Rev   uint64
}

func (e *OwnedError) Error() string {
	return fmt.Sprintf("call %s is owned by agent %s (instance %s, term %d)", e.Owner.CallID, e.Owner.Agent, e.Owner.Instance, e.Owner.Term)
}

// ErrOwnerChanged: the record changed since it was read (another agent
// took the call, or it ended); the caller lost the race.
var ErrOwnerChanged = errors.New("call ownership changed meanwhile")

// ErrNoRecord: the call has no ownership record (it ended, or a NATS that
// lost its data has not been told yet).
var ErrNoRecord = errors.New("no ownership record")

// callsTTL drops records nobody deleted (every agent gone for a day):
// far longer than any call.
const callsTTL = 24 * time.Hour

// Owners is the call-ownership bucket. Safe for concurrent use.
type Owners struct {
	c  *Client
	kv jetstream.KeyValue
}

// Owners opens the ownership bucket, creating it if needed.
func (c *Client) Owners(ctx context.Context) (*Owners, error) {
	o := &Owners{c: c}
	if err := o.Ensure(ctx); err != nil {
		return nil, err
	}
	return o, nil
}

// Ensure creates the bucket if it is missing: after a NATS that came back
// without its data, before the records are announced again.
func (o *Owners) Ensure(ctx context.Context) error {
	js, err := jetstream.New(o.c.NC)
	if err != nil {
		return fmt.Errorf("owners: %w", err)
	}
	kv, err := ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      o.c.Subjects.CallsBucket(),
		Description: "calltop call ownership (key: call id): which agent instance owns each live call",
		History:     1,
		TTL:         callsTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    o.c.replicas(),
	})
	if err != nil {
		return fmt.Errorf("owners: %w", err)
	}
	if o.kv == nil {
		// Set once, by Owners: a handle names its bucket, so it works on
		// a bucket recreated later, and other goroutines read it.
		o.kv = kv
	}
	return nil
}

// Claim records rec as the owner of a call that has none and returns the
// record's revision; an *OwnedError when the call has an owner already.
func (o *Owners) Claim(ctx context.Context, rec Owner) (uint64, error) {
	data, err := encodeOwner(rec)
	if err != nil {
		return 0, err
	}
	rev, err := o.kv.Create(ctx, rec.CallID, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		have, hrev, gerr := o.Get(ctx, rec.CallID)
		if errors.Is(gerr, ErrNoRecord) {
			return 0, fmt.Errorf("claim %s: %w", rec.CallID, ErrOwnerChanged)
		}
		if gerr != nil {
			return 0, fmt.Errorf("claim %s: %w", rec.CallID, gerr)
		}
		return 0, &OwnedError{Owner: have, Rev: hrev}
	}
	if err != nil {
		return 0, fmt.Errorf("claim %s: %w", rec.CallID, err)
	}
	return rev, nil
}

// Get reads a call's record and revision; ErrNoRecord when it has none.
func (o *Owners) Get(ctx context.Context, callID string) (Owner, uint64, error) {
	e, err := o.kv.Get(ctx, callID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Owner{}, 0, fmt.Errorf("owner of %s: %w", callID, ErrNoRecord)
	}
	if err != nil {
		return Owner{}, 0, fmt.Errorf("owner of %s: %w", callID, err)
	}
	rec, err := decodeOwner(e.Value())
	if err != nil {
		return Owner{}, 0, fmt.Errorf("owner of %s: %w", callID, err)
	}
	return rec, e.Revision(), nil
}

// Take makes rec the call's record if it is still at revision rev, and
// returns the new revision: the one way a call changes hands, so two
// agents taking the same call cannot both succeed (the loser gets
// ErrOwnerChanged).
func (o *Owners) Take(ctx context.Context, rec Owner, rev uint64) (uint64, error) {
	data, err := encodeOwner(rec)
	if err != nil {
		return 0, err
	}
	nrev, err := o.kv.Update(ctx, rec.CallID, data, rev)
	if errors.Is(err, jetstream.ErrKeyExists) || isWrongLastSeq(err) {
		return 0, fmt.Errorf("take %s: %w", rec.CallID, ErrOwnerChanged)
	}
	if err != nil {
		return 0, fmt.Errorf("take %s: %w", rec.CallID, err)
	}
	return nrev, nil
}

// Release deletes a call's record if it is still at revision rev (the
// call ended; a record another agent took since is left alone).
func (o *Owners) Release(ctx context.Context, callID string, rev uint64) error {
	err := o.kv.Delete(ctx, callID, jetstream.LastRevision(rev))
	if isWrongLastSeq(err) || errors.Is(err, jetstream.ErrKeyExists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release %s: %w", callID, err)
	}
	return nil
}

// OwnerEntry is a record with its revision.
type OwnerEntry struct {
	Owner
	Rev uint64
}

// All reads every record: what an agent scans for calls whose owner died.
func (o *Owners) All(ctx context.Context) ([]OwnerEntry, error) {
	var out []OwnerEntry
	err := eachValue(ctx, o.kv, func(e jetstream.KeyValueEntry) error {
		if rec, err := decodeOwner(e.Value()); err == nil { // a bad one is not ours to judge; Get reports it
			out = append(out, OwnerEntry{Owner: rec, Rev: e.Revision()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("owners: %w", err)
	}
	return out, nil
}

func encodeOwner(rec Owner) ([]byte, error) {
	if err := ValidateCallID(rec.CallID); err != nil {
		return nil, fmt.Errorf("owner record: %w", err)
	}
	if rec.Instance == "" || rec.Term == 0 {
		return nil, fmt.Errorf("owner record of %s: no instance or term", rec.CallID)
	}
	return json.Marshal(rec)
}

func decodeOwner(data []byte) (Owner, error) {
	var rec Owner
	if err := json.Unmarshal(data, &rec); err != nil {
		return Owner{}, fmt.Errorf("bad ownership record: %w", err)
	}
	if err := ValidateCallID(rec.CallID); err != nil {
		return Owner{}, fmt.Errorf("bad ownership record: %w", err)
	}
	return rec, nil
}

// isWrongLastSeq reports a compare-and-set conflict.
func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
