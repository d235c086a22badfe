package store

import (
	"context"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
)

// alertPrefix names the kv rows holding each alert's last state: a row
// "alert:<rule>:<partner>" with value "firing" exists while it fires and
// says "ok" after it cleared. No row means it never fired.
const alertPrefix = "alert:"

// FlipAlert records that the alert named key (rule and partner) is now firing
// or not, and, only if that changes its stored state, queues job in the same
// transaction. It reports whether it flipped. The flip is one conditional
// statement, so of several instances checking at once exactly one sees the
// row change and queues the message: the others' statements wait for its
// commit and then match nothing.
func (s *Store) FlipAlert(ctx context.Context, key string, firing bool, job recontact.Job) (bool, error) {
	var flipped bool
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var q string
		if firing {
			q = `INSERT INTO kv (name, value) VALUES (?, 'firing')
ON CONFLICT (name) DO UPDATE SET value = 'firing' WHERE kv.value <> 'firing'`
		} else {
			// An alert that never fired has nothing to resolve.
			q = `UPDATE kv SET value = 'ok' WHERE name = ? AND value = 'firing'`
		}
		res, err := tx.ExecContext(ctx, tx.Rebind(q), alertPrefix+key)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		flipped = true
		return s.enqueue(ctx, tx, job)
	})
	return flipped, err
}

// FiringAlerts lists the keys of the alerts now firing, so a check can clear
// those whose subject vanished from its readings (a partner with no contacts).
func (s *Store) FiringAlerts(ctx context.Context) ([]string, error) {
	var names []string
	err := s.db.SelectContext(ctx, &names, s.db.Rebind(`SELECT name FROM kv WHERE name LIKE ? AND value = 'firing' ORDER BY name`), alertPrefix+"%")
	for i, n := range names {
		names[i] = strings.TrimPrefix(n, alertPrefix)
	}
	return names, classify(err)
}

// DeadLetters counts the failed (dead-lettered) jobs by kind.
func (s *Store) DeadLetters(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		Kind string `db:"kind"`
		N    int    `db:"n"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT kind, COUNT(*) AS n FROM jobs WHERE state = 'failed' GROUP BY kind`)
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Kind] = r.N
	}
	return out, classify(err)
}
