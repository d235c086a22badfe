package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
)

// ReplayStats counts what Replay did.
type ReplayStats struct {
	Applied, Failed, Pruned int
}

// Replay re-parses kept raw deliveries received at or after since, oldest
// first, and applies their snapshots again without claiming their keys. It
// drops the activity counters: those were counted when the delivery arrived.
func (s *Store) Replay(ctx context.Context, since time.Time,
	parse func(src recontact.Source, key string, received time.Time, body []byte) (*recontact.Delivery, error)) (ReplayStats, error) {
	var st ReplayStats
	after := ms(since) - 1
	afterKey := ""
	for {
		var rows []struct {
			Source     string `db:"source"`
			Key        string `db:"dedupe_key"`
			ReceivedMS int64  `db:"received_ms"`
			Body       []byte `db:"body"`
		}
		// Keyset pages keep memory flat however many deliveries are kept.
		err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`
SELECT source, dedupe_key, received_ms, body FROM deliveries
WHERE received_ms > ? OR (received_ms = ? AND dedupe_key > ?)
ORDER BY received_ms, dedupe_key LIMIT 500`), after, after, afterKey)
		if err != nil {
			return st, classify(err)
		}
		if len(rows) == 0 {
			return st, nil
		}
		for _, r := range rows {
			after, afterKey = r.ReceivedMS, r.Key
			if r.Body == nil {
				st.Pruned++
				continue
			}
			d, err := parse(recontact.Source(r.Source), r.Key, fromMS(r.ReceivedMS), r.Body)
			if err != nil {
				st.Failed++
				continue
			}
			err = s.inTx(ctx, func(tx *sqlx.Tx) error {
				if d.Contact != nil {
					if err := s.upsertContact(ctx, tx, d.Contact, recontact.Activity{}, !d.ReportsActivity, d.ReceivedAt); err != nil {
						return err
					}
				}
				if d.Booking != nil {
					return s.upsertBooking(ctx, tx, d.Booking)
				}
				return nil
			})
			if err != nil {
				return st, err
			}
			st.Applied++
		}
	}
}

// PruneDeliveries forgets deliveries received before cutoff: their bodies
// and their idempotency keys (senders stop retrying within days).
func (s *Store) PruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM deliveries WHERE received_ms < ?`), ms(cutoff))
	if err != nil {
		return 0, classify(err)
	}
	return res.RowsAffected()
}
