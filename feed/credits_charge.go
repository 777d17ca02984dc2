package feed

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Charge tells the store that callID, a call of user, has cost total so
// far: its running total, not an increment. The store debits total minus
// what it already debited for the call when that is positive, and nothing
// otherwise: a lower or equal total is a no-op, never a refund. So Charge
// can be repeated freely: periodically while the call runs, at its end, by
// an agent restarted after a crash, by a second agent that adopted the
// call and carries its running total on, by two agents at once, after a
// timeout whose write did land. However often and by however many writers
// it is called, the balance ends debited exactly the highest total any
// Charge passed. debited is what this Charge itself took from the balance
// (so the debited of all Charges of a call sum to its highest total; on
// error, the debits it knows landed). On error, call Charge again: it
// completes what a failed or crashed Charge started and never repeats a
// debit.
//
// A user without an entry has no credit limit: nothing is charged and
// nothing recorded (0, nil). Balances may go negative. A call charged to
// one user cannot be charged to another (ErrChargeConflict).
//
// How. Each call has a charge record (key: the call ID, in ChargesBucket)
// whose applied field is a running total, and the user's balance document
// may name the call in its pending map. At every moment
//
//	debited(call) = balance.pending[call] if present, else record.applied
//
// and record.applied never decreases. A Charge reads the balance, then
// the record (in that order), and makes one write, conditioned on the
// revision of what it read (optimistic concurrency on both keys):
//
//   - the call is pending at p: the debit of p landed but the record does
//     not say so. Write record.applied = p (if it is below p), then drop
//     the pending entry. Neither changes debited(call).
//   - not pending and total > record.applied: debit the difference and
//     set pending[call] = total in one balance write. This write is
//     conditioned on the balance revision read before the record, so no
//     pending entry can have come and gone in between: record.applied was
//     debited(call) all along.
//   - otherwise: done.
//
// It repeats until done. A charger that stops between any two writes
// leaves a state that satisfies the invariant, and the next Charge of the
// call (any total) completes it; until then the pending entry stays, and
// the balance is right. Records expire ChargeRetention after their last
// change; a call charged again after that is charged its whole total anew.
func (s *CreditStore) Charge(ctx context.Context, user, callID string, total Micros) (debited Micros, err error) {
	if err := ValidateCallID(callID); err != nil {
		return 0, fmt.Errorf("charge: %w", err)
	}
	if total < 0 || total > MaxMicros {
		return 0, fmt.Errorf("charge %s: total %s is not an amount from $0 to $9000000000000 (credit a user with Add)", callID, total)
	}
	if err := checkUser(user); err != nil {
		return 0, fmt.Errorf("charge %s: %w", callID, err)
	}
	conflicts := 0
	for steps := 0; steps < 8*casTries; steps++ {
		res, took, err := s.chargeStep(ctx, user, callID, total)
		debited += took
		if err != nil {
			return debited, fmt.Errorf("charge %s to %s (total %s): %w", callID, user, total, err)
		}
		switch res {
		case stepDone:
			return debited, nil
		case stepConflict:
			if conflicts++; conflicts >= casTries {
				return debited, fmt.Errorf("charge %s to %s: %w", callID, user, ErrCreditContention)
			}
			if err := backoff(ctx, conflicts); err != nil {
				return debited, fmt.Errorf("charge %s to %s: %w", callID, user, err)
			}
		}
	}
	return debited, fmt.Errorf("charge %s to %s: %w", callID, user, ErrCreditContention)
}

type stepResult int

const (
	stepDone     stepResult = iota
	stepProgress            // a write landed: look again at once
	stepConflict            // another writer came first: back off, look again
)

// chargeStep makes at most one write towards Charge's goal; see Charge.
// took is what it debited.
func (s *CreditStore) chargeStep(ctx context.Context, user, callID string, total Micros) (res stepResult, took Micros, err error) {
	d, brev, err := s.get(ctx, user)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return stepDone, 0, nil // no entry: no credit limit
	}
	if err == nil {
		err = d.bad
	}
	if err != nil {
		return 0, 0, err
	}
	rec, rrev, err := s.record(ctx, callID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return s.createRecord(ctx, user, callID)
	}
	if err != nil {
		return 0, 0, err
	}
	if rec.User != user {
		return 0, 0, fmt.Errorf("%w (%q)", ErrChargeConflict, rec.User)
	}
	if p, ok := d.pendingFor(rec); ok {
		switch {
		case rec.Applied < p:
			rec.Applied, rec.UpdatedAt = p, s.now().UTC()
			return s.putRecord(ctx, &rec, rrev)
		case rec.Applied > p:
			// A record past the balance's pending total: the balance read
			// is older than the record read. Read both again.
			return stepConflict, 0, nil
		}
		d.settle(callID)
		return s.putBalance(ctx, &d, brev, "settled")
	}
	if _, stale := d.legacyPending[callID]; stale {
		d.settle(callID) // an earlier version's entry its record has settled
		return s.putBalance(ctx, &d, brev, "settled")
	}
	if total <= rec.Applied {
		return stepDone, 0, nil
	}
	delta := total - rec.Applied
	b, err := AddMicros(d.Balance, -delta)
	if err != nil {
		return 0, 0, fmt.Errorf("debit %s from a balance of %s: %w", delta, d.Balance, err)
	}
	d.Balance, d.UpdatedAt = b, s.now().UTC()
	if d.Pending == nil {
		d.Pending = make(map[string]Micros, 1)
	}
	d.Pending[callID] = total
	res, _, err = s.putBalance(ctx, &d, brev, "debited")
	if res == stepProgress {
		took = delta
	}
	return res, took, err
}

func (s *CreditStore) createRecord(ctx context.Context, user, callID string) (stepResult, Micros, error) {
	now := s.now().UTC()
	rec := chargeDoc{CallID: callID, User: user, At: now, UpdatedAt: now}
	data, err := rec.encode()
	if err != nil {
		return 0, 0, err
	}
	_, err = s.charges.Create(ctx, callID, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return stepProgress, 0, nil // another charger created it: read it
	}
	if err != nil {
		return 0, 0, fmt.Errorf("create charge record: %w", err)
	}
	return stepProgress, 0, s.afterWrite("recorded")
}

func (s *CreditStore) putRecord(ctx context.Context, rec *chargeDoc, rev uint64) (stepResult, Micros, error) {
	data, err := rec.encode()
	if err != nil {
		return 0, 0, err
	}
	_, err = s.charges.Update(ctx, rec.CallID, data, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return stepConflict, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("update charge record: %w", err)
	}
	return stepProgress, 0, s.afterWrite("applied")
}

func (s *CreditStore) putBalance(ctx context.Context, d *creditDoc, rev uint64, step string) (stepResult, Micros, error) {
	conflict, err := s.put(ctx, d, rev, false)
	if err != nil {
		return 0, 0, fmt.Errorf("write balance (%s): %w", step, err)
	}
	if conflict {
		return stepConflict, 0, nil
	}
	return stepProgress, 0, s.afterWrite(step)
}

func (s *CreditStore) afterWrite(step string) error {
	if s.wrote == nil {
		return nil
	}
	if err := s.wrote(step); err != nil {
		return fmt.Errorf("stopped after the write (%s): %w", step, err)
	}
	return nil
}

// Charged returns the running total debited for callID so far; ok is
// false when the call has no charge record (never charged, charged to a
// user without an entry, or expired).
func (s *CreditStore) Charged(ctx context.Context, callID string) (total Micros, ok bool, err error) {
	if err := ValidateCallID(callID); err != nil {
		return 0, false, fmt.Errorf("charged: %w", err)
	}
	rec, _, err := s.record(ctx, callID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("charged %s: %w", callID, err)
	}
	// The balance, then the record again: a debit settled while the
	// balance was read is in the second record read.
	d, _, err := s.get(ctx, rec.User)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return rec.Applied, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("charged %s: %w", callID, err)
	}
	if rec, _, err = s.record(ctx, callID); err != nil {
		return 0, false, fmt.Errorf("charged %s: %w", callID, err)
	}
	total = rec.Applied
	if p, ok := d.pendingFor(rec); ok && p > total {
		total = p
	}
	return total, true, nil
}

// record reads callID's charge record and its revision.
func (s *CreditStore) record(ctx context.Context, callID string) (chargeDoc, uint64, error) {
	e, err := s.charges.Get(ctx, callID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return chargeDoc{}, 0, err
	}
	if err != nil {
		return chargeDoc{}, 0, fmt.Errorf("read charge record: %w", err)
	}
	rec, err := decodeChargeDoc(e.Value())
	if err != nil {
		return chargeDoc{}, 0, fmt.Errorf("charge record %s: %w", callID, err)
	}
	return rec, e.Revision(), nil
}
