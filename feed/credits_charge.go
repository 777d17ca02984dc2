package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Charge debits a finished call's cost from user's balance exactly once,
// however often it is called for the call: again by an agent restarted
// after a crash, concurrently by two agents, or after a timeout whose
// write did land. charged is true for the one Charge that recorded the
// call and false when it had been recorded before; either way, once Charge
// returns nil the balance holds the call's debit once. The amount recorded
// first wins. On error, call Charge again: it finishes a recorded charge and
// never repeats it.
//
// A user without an entry has no credit limit: nothing is charged
// (charged false, no error). Balances may go negative.
//
// How: the charge record (key: the call ID, in ChargesBucket) is created
// with a KV create, which only one writer can win: that is the commit
// point. The debit then goes into the balance by optimistic concurrency
// together with the call ID in the balance's pending set; the record is
// then marked applied and the call ID leaves the pending set. A charger
// resuming a record not marked applied reads the balance, then the
// record, and writes only at the balance revision it read: it either finds
// the call pending (debited already), the record applied, or writes first
// and makes every other writer retry. Records expire after ChargeRetention.
func (s *CreditStore) Charge(ctx context.Context, user, callID string, usd float64) (charged bool, err error) {
	if err := ValidateCallID(callID); err != nil {
		return false, fmt.Errorf("charge: %w", err)
	}
	if err := checkUSD(usd); err != nil {
		return false, fmt.Errorf("charge %s: %w", callID, err)
	}
	if usd < 0 {
		return false, fmt.Errorf("charge %s: negative amount %v (credit a user with Add)", callID, usd)
	}
	if _, _, err := s.get(ctx, user); errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("charge %s: %w", callID, err)
	}
	rec := chargeDoc{CallID: callID, User: user, USD: usd, At: s.now().UTC()}
	data, err := json.Marshal(rec)
	if err != nil {
		return false, fmt.Errorf("charge %s: %w", callID, err)
	}
	_, err = s.charges.Create(ctx, callID, data)
	switch {
	case err == nil:
		charged = true
	case errors.Is(err, jetstream.ErrKeyExists):
		have, err := s.record(ctx, callID)
		if err != nil {
			return false, fmt.Errorf("charge %s: %w", callID, err)
		}
		if have.User != user {
			return false, fmt.Errorf("charge %s to %q: %w (%q)", callID, user, ErrChargeConflict, have.User)
		}
		if have.Applied {
			// Done, but a crashed charger may have left it pending.
			if err := s.clearPending(ctx, have); err != nil {
				return false, fmt.Errorf("charge %s: %w", callID, err)
			}
			return false, nil
		}
		rec = have // resume what was recorded, amount included
	default:
		return false, fmt.Errorf("charge %s: record: %w", callID, err)
	}
	if err := s.apply(ctx, rec); err != nil {
		return false, fmt.Errorf("charge %s to %s: %w", callID, user, err)
	}
	return charged, nil
}

// Charged reports whether callID has a charge record and its amount.
func (s *CreditStore) Charged(ctx context.Context, callID string) (usd float64, ok bool, err error) {
	if err := ValidateCallID(callID); err != nil {
		return 0, false, fmt.Errorf("charged: %w", err)
	}
	rec, err := s.record(ctx, callID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("charged %s: %w", callID, err)
	}
	return rec.USD, true, nil
}

func (s *CreditStore) record(ctx context.Context, callID string) (chargeDoc, error) {
	e, err := s.charges.Get(ctx, callID)
	if err != nil {
		return chargeDoc{}, fmt.Errorf("read charge record: %w", err)
	}
	var rec chargeDoc
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return chargeDoc{}, fmt.Errorf("charge record %s: %w", callID, err)
	}
	return rec, nil
}

// apply moves a recorded charge into the balance once, then marks the
// record applied and clears the call from the balance's pending set.
func (s *CreditStore) apply(ctx context.Context, rec chargeDoc) error {
	if done, err := s.debit(ctx, rec); err != nil || done {
		return err
	}
	rec.Applied = true
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if _, err := s.charges.Put(ctx, rec.CallID, data); err != nil {
		return fmt.Errorf("mark charge applied: %w", err)
	}
	return s.clearPending(ctx, rec)
}

// debit puts rec's amount into the balance unless it is there already.
// done reports that another charger finished the whole charge.
func (s *CreditStore) debit(ctx context.Context, rec chargeDoc) (done bool, err error) {
	for try := 0; try < casTries; try++ {
		// Balance first, record second: see Charge for why the order matters.
		d, rev, err := s.get(ctx, rec.User)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return false, nil // the entry is gone: nothing to debit
		}
		if err != nil {
			return false, err
		}
		now, err := s.record(ctx, rec.CallID)
		if err != nil {
			return false, err
		}
		if now.Applied {
			return true, nil
		}
		if _, ok := d.Pending[rec.CallID]; ok {
			return false, nil
		}
		d.BalanceUSD -= rec.USD
		d.UpdatedAt = s.now().UTC()
		if d.Pending == nil {
			d.Pending = make(map[string]time.Time, 1)
		}
		d.Pending[rec.CallID] = d.UpdatedAt
		conflict, err := s.put(ctx, &d, rev, false)
		if err != nil {
			return false, fmt.Errorf("debit: %w", err)
		}
		if !conflict {
			return false, nil
		}
		if err := backoff(ctx, try); err != nil {
			return false, err
		}
	}
	return false, ErrCreditContention
}

// clearPending removes rec's call from the balance's pending set, once its
// record says applied.
func (s *CreditStore) clearPending(ctx context.Context, rec chargeDoc) error {
	for try := 0; try < casTries; try++ {
		d, rev, err := s.get(ctx, rec.User)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, ok := d.Pending[rec.CallID]; !ok {
			return nil
		}
		delete(d.Pending, rec.CallID)
		conflict, err := s.put(ctx, &d, rev, false)
		if err != nil {
			return fmt.Errorf("clear pending: %w", err)
		}
		if !conflict {
			return nil
		}
		if err := backoff(ctx, try); err != nil {
			return err
		}
	}
	return ErrCreditContention
}
