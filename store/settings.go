package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// settingsKey names the kv row holding the fingerprint of the settings the
// stored verdicts were computed with.
const settingsKey = "verdict_settings"

// verdictFingerprint covers exactly the settings metrics.Evaluate reads. The
// contact-ratio bands are derived at query time, so changing them needs no
// re-evaluation and they are left out.
func (s *Store) verdictFingerprint() string {
	st := s.settings
	return fmt.Sprintf("v1 repeat_ms=%d fcr_ms=%d order_ms=%d",
		st.RepeatWindow.Milliseconds(), st.FCRWindow.Milliseconds(), st.OrderWindow.Milliseconds())
}

// checkSettings marks every contact dirty when the verdict settings differ
// from those the stored verdicts were computed with, and records the new
// fingerprint in the same transaction: a crash cannot record the settings
// without the re-evaluation being queued. A store without a fingerprint (new,
// or from before fingerprints) counts as different; on an empty store that
// costs nothing. The evaluator then re-evaluates in its usual batches, and
// write-back re-tags whatever changed.
func (s *Store) checkSettings(ctx context.Context) error {
	want := s.verdictFingerprint()
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if s.dialect == Postgres {
			// Two instances starting together must not both mark (harmless,
			// but a second full pass); the second waits and then finds the
			// fingerprint already current.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, settingsKey); err != nil {
				return err
			}
		}
		var have string
		err := tx.GetContext(ctx, &have, tx.Rebind(`SELECT value FROM kv WHERE name = ?`), settingsKey)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err == nil && have == want {
			return nil
		}
		if err := s.markWhere(ctx, tx, `1 = 1`); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO kv (name, value) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET value = excluded.value`), settingsKey, want)
		return err
	})
	if err != nil {
		return fmt.Errorf("check verdict settings: %w", err)
	}
	return nil
}
