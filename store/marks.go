package store

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// A mark is a row in marks: this contact changed (or something its verdict
// depends on did), so its customer needs evaluating. Writers add marks in the
// transaction of the change; an evaluation deletes the marks it read, by id,
// in the transaction that stores its verdicts. A change committed after those
// reads has a mark of its own that the evaluation never saw, so it survives
// and the change is judged on the next pass.
type mark struct {
	ID        int64          `db:"id"`
	ContactID int64          `db:"contact_id"`
	Customer  sql.NullString `db:"customer_key"` // the contact's customer now; NULL when it is gone
}

// markContacts marks contacts by id.
func (s *Store) markContacts(ctx context.Context, tx *sqlx.Tx, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	if s.dialect == Postgres {
		st, err := s.prepared(ctx, tx, `INSERT INTO marks (contact_id) SELECT unnest($1::bigint[])`)
		if err != nil {
			return err
		}
		_, err = st.ExecContext(ctx, pq.Array(ids))
		return err
	}
	for part := range slices.Chunk(ids, rowsPerStatement) {
		q := `INSERT INTO marks (contact_id) VALUES ` + strings.Repeat("(?), ", len(part)-1) + "(?)"
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// markWhere marks the contacts that match a condition on contacts.
func (s *Store) markWhere(ctx context.Context, tx *sqlx.Tx, where string, args ...any) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO marks (contact_id) SELECT id FROM contacts WHERE `+where), args...)
	return err
}

// takeMarksSQL reads the oldest marks with their contacts' customers (NULL
// for a contact since deleted). The customer is a subquery per mark, not a
// join: with a pass's 1,000 marks and statistics that counted about as many,
// PostgreSQL joined by hashing every contact (29 ms for 61,000 contacts, and
// more with each new one), where the 1,000 look-ups by id take 2 ms.
const takeMarksSQL = `SELECT m.id, m.contact_id, (SELECT c.customer_key FROM contacts c WHERE c.id = m.contact_id) AS customer_key
FROM marks m ORDER BY m.id LIMIT ?`

// takeMarks reads up to limit of the oldest marks with their contacts'
// customers. It takes no lock: an evaluator on another instance may read the
// same marks, and the customers' advisory locks put the two one after the
// other; the second finds nothing to change.
func (s *Store) takeMarks(ctx context.Context, limit int) ([]mark, error) {
	st, err := s.poolStmt(ctx, s.db.Rebind(takeMarksSQL))
	if err != nil {
		return nil, err
	}
	var ms []mark
	err = st.SelectContext(ctx, &ms, limit)
	return ms, err
}

// dropMarks deletes marks by id.
func (s *Store) dropMarks(ctx context.Context, tx *sqlx.Tx, ids []int64) error {
	return s.deleteIDs(ctx, tx, "marks", ids)
}

// EvaluationBacklog counts the marks waiting for the evaluator: changes whose
// verdicts are not judged yet.
func (s *Store) EvaluationBacklog(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM marks`)
	return n, classify(err)
}
