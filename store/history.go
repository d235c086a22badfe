package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
)

// A backfill loads history: tickets mostly closed long ago, which need no
// tags. It records, per helpdesk, an instant; a contact never written back
// whose last helpdesk update is older than that instant is history, and its
// evaluations queue no write-back, whichever process runs them (a serve with
// write-back on evaluates backfilled contacts too). The next live update of
// the ticket (a newer updated_at) makes it current again.

// historicNote is what the ticket API shows for such a contact.
const historicNote = "history loaded by a backfill: not written back"

func historyKey(src recontact.Source) string { return "writeback_history_before:" + string(src) }

// MarkHistoryBefore makes contacts of src last updated before t history (see
// above). A later instant replaces an earlier one.
func (s *Store) MarkHistoryBefore(ctx context.Context, src recontact.Source, t time.Time) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		cur, err := readHorizon(ctx, tx, src)
		if err != nil || ms(t) <= cur {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO kv (name, value) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET value = excluded.value`), historyKey(src), strconv.FormatInt(ms(t), 10))
		return err
	})
}

func readHorizon(ctx context.Context, tx *sqlx.Tx, src recontact.Source) (int64, error) {
	var v string
	err := tx.GetContext(ctx, &v, tx.Rebind(`SELECT value FROM kv WHERE name = ?`), historyKey(src))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// historyHorizons reads each helpdesk's instant once per evaluation
// transaction, and only when a never-written contact needs it.
type historyHorizons map[recontact.Source]int64

func (h historyHorizons) get(ctx context.Context, tx *sqlx.Tx, src recontact.Source) (int64, error) {
	if v, ok := h[src]; ok {
		return v, nil
	}
	v, err := readHorizon(ctx, tx, src)
	if err == nil {
		h[src] = v
	}
	return v, err
}

// markHistoric says why the contact is not written back, once.
func (s *Store) markHistoric(ctx context.Context, tx *sqlx.Tx, r contactRow) error {
	if r.WritebackErr == historicNote {
		return nil
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE contacts SET writeback_error = ? WHERE id = ?`), historicNote, r.ID)
	return err
}
