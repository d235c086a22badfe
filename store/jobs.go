package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/recontact/recontact"
)

// Job states. A claimed job is "running" under a lease; a crash lets the lease
// run out and another worker takes it again. "failed" is the dead letter.
const (
	JobPending = "pending"
	JobRunning = "running"
	JobFailed  = "failed"
)

// QueuedJob is a job row.
type QueuedJob struct {
	ID        int64  `db:"id"`
	Kind      string `db:"kind"`
	Key       string `db:"key"`
	Payload   string `db:"payload"`
	State     string `db:"state"`
	Attempts  int    `db:"attempts"`
	RunAtMS   int64  `db:"run_at_ms"`
	LastError string `db:"last_error"`
	CreatedMS int64  `db:"created_ms"`
	UpdatedMS int64  `db:"updated_ms"`
}

// RunAt is when the job is due.
func (j *QueuedJob) RunAt() time.Time { return fromMS(j.RunAtMS) }

// CreatedAt is when the job was queued.
func (j *QueuedJob) CreatedAt() time.Time { return fromMS(j.CreatedMS) }

const jobColumns = `id, kind, key, payload, state, attempts, run_at_ms, last_error, created_ms, updated_ms`

// enqueue adds a job unless the same kind and key is already pending.
func (s *Store) enqueue(ctx context.Context, tx *sqlx.Tx, j recontact.Job) error {
	now := s.Now()
	at := j.RunAt
	if at.IsZero() {
		at = now
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`
INSERT INTO jobs (kind, key, payload, state, run_at_ms, created_ms, updated_ms)
VALUES (?, ?, ?, 'pending', ?, ?, ?)
ON CONFLICT (kind, key) WHERE state = 'pending' DO NOTHING`), j.Kind, j.Key, string(j.Payload), ms(at), ms(now), ms(now))
	return err
}

// Enqueue adds jobs outside a delivery (timers, admin actions).
func (s *Store) Enqueue(ctx context.Context, jobs ...recontact.Job) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		for _, j := range jobs {
			if err := s.enqueue(ctx, tx, j); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.notifyJobs()
	}
	return err
}

// Claim takes up to n due jobs of the given kinds for lease. On PostgreSQL,
// SKIP LOCKED lets several instances claim side by side without waiting on or
// double-taking each other's rows; SQLite has one writer, so plain is enough.
// A pending job whose twin (same kind and key) is running under a live lease
// waits for it: two workers on one ticket at once would each act on what the
// other has not recorded yet (write-back would add fcr and not_fcr). The
// running keys are one uncorrelated set, built once per claim: a correlated
// probe per candidate costs a second per claim with 10,000 jobs pending.
func (s *Store) Claim(ctx context.Context, kinds []string, n int, lease time.Duration) ([]QueuedJob, error) {
	now := s.Now()
	skip := ""
	if s.dialect == Postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	q, args, err := sqlx.In(`
UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_until_ms = ?, updated_ms = ?
WHERE id IN (
	SELECT id FROM jobs
	WHERE kind IN (?) AND ((state = 'pending' AND run_at_ms <= ? AND kind || ' ' || key NOT IN (SELECT kind || ' ' || key FROM jobs
		WHERE kind IN (?) AND state = 'running' AND locked_until_ms >= ?))
		OR (state = 'running' AND locked_until_ms < ?))
	ORDER BY run_at_ms, id LIMIT ?`+skip+`)
RETURNING `+jobColumns, ms(now.Add(lease)), ms(now), kinds, ms(now), kinds, ms(now), ms(now), n)
	if err != nil {
		return nil, err
	}
	var jobs []QueuedJob
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		return tx.SelectContext(ctx, &jobs, tx.Rebind(q), args...)
	})
	return jobs, err
}

// Complete removes a finished job.
func (s *Store) Complete(ctx context.Context, id int64) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM jobs WHERE id = ?`), id)
	return classify(err)
}

// Retry puts a job back for a later attempt, or into the dead letter once it
// has had maxAttempts. If news queued a fresh pending job for the same key
// meanwhile, that one carries the work and this one is dropped.
func (s *Store) Retry(ctx context.Context, j *QueuedJob, at time.Time, cause error, maxAttempts int) error {
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	now := ms(s.Now())
	if maxAttempts > 0 && j.Attempts >= maxAttempts {
		_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE jobs SET state = 'failed', last_error = ?, updated_ms = ? WHERE id = ?`), msg, now, j.ID)
		return classify(err)
	}
	return s.repend(ctx, j.ID, ms(at), msg, false)
}

// repend moves a job back to pending, or drops it when a pending twin exists.
// It runs outside a transaction: on PostgreSQL a unique violation would abort
// one, and each statement is safe on its own.
func (s *Store) repend(ctx context.Context, id, at int64, msg string, resetAttempts bool) error {
	q := `UPDATE jobs SET state = 'pending', run_at_ms = ?, locked_until_ms = 0, last_error = ?, updated_ms = ?`
	if resetAttempts {
		q += `, attempts = 0`
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(q+` WHERE id = ? AND NOT EXISTS
	(SELECT 1 FROM jobs twin WHERE twin.kind = jobs.kind AND twin.key = jobs.key AND twin.state = 'pending')`),
		at, msg, ms(s.Now()), id)
	if err != nil && !isUniqueViolation(err) { // a violation: a twin committed between check and write
		return classify(err)
	}
	if err == nil {
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
	}
	_, err = s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM jobs WHERE id = ?`), id)
	return classify(err)
}

// RetryFailed moves a dead-lettered job back to the queue (admin action).
func (s *Store) RetryFailed(ctx context.Context, id int64) error {
	var state string
	err := s.db.GetContext(ctx, &state, s.db.Rebind(`SELECT state FROM jobs WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return recontact.Errorf(recontact.ENotFound, "no job with that id")
	}
	if err != nil {
		return classify(err)
	}
	if state != JobFailed {
		return recontact.Errorf(recontact.EConflict, "job is "+state+", only failed jobs can be retried")
	}
	return s.repend(ctx, id, ms(s.Now()), "", true)
}

// Jobs lists jobs of some kinds in a state, newest first.
func (s *Store) Jobs(ctx context.Context, kinds []string, state string, limit int) ([]QueuedJob, error) {
	q, args, err := sqlx.In(`SELECT `+jobColumns+` FROM jobs WHERE kind IN (?) AND state = ? ORDER BY updated_ms DESC, id DESC LIMIT ?`, kinds, state, limit)
	if err != nil {
		return nil, err
	}
	var jobs []QueuedJob
	err = s.db.SelectContext(ctx, &jobs, s.db.Rebind(q), args...)
	return jobs, classify(err)
}

// QueueStats counts jobs by state for some kinds, with the age of the oldest
// pending one.
type QueueStats struct {
	Pending, Running, Failed int
	OldestPending            time.Duration
}

// Queue reports QueueStats.
func (s *Store) Queue(ctx context.Context, kinds []string) (QueueStats, error) {
	q, args, err := sqlx.In(`SELECT state, COUNT(*) AS n, MIN(created_ms) AS oldest FROM jobs WHERE kind IN (?) GROUP BY state`, kinds)
	if err != nil {
		return QueueStats{}, err
	}
	var rows []struct {
		State  string `db:"state"`
		N      int    `db:"n"`
		Oldest int64  `db:"oldest"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...); err != nil {
		return QueueStats{}, classify(err)
	}
	var st QueueStats
	for _, r := range rows {
		switch r.State {
		case JobPending:
			st.Pending = r.N
			st.OldestPending = s.Now().Sub(fromMS(r.Oldest))
		case JobRunning:
			st.Running = r.N
		case JobFailed:
			st.Failed = r.N
		}
	}
	return st, nil
}

func isUniqueViolation(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
