package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
)

// Write-back states of a contact (its writeback column).
const (
	WritebackOff     = "off"
	WritebackPending = "pending"
	WritebackDone    = "done"
	WritebackFailed  = "failed"
	WritebackDryRun  = "dry-run"
)

// WritebackItem is one ticket's write-back as the admin API lists it.
type WritebackItem struct {
	JobID       int64 // 0: no job queued (done, dry-run, or a ticket that can never be written)
	Source      recontact.Source
	TicketID    string
	State       string // pending or failed (a job), done or dry-run (a contact)
	Attempts    int
	LastError   string // the job's last error, else the outcome recorded on the contact
	Plan        string // dry-run: what would have been sent
	TagsWritten []string
	UpdatedAt   time.Time // the job's last change; zero without a job
}

// WritebackItems lists up to limit write-backs in state: pending (queued or
// running jobs), failed (the dead letter, each with a job an admin can
// retry, then tickets that can never be written, such as closed ones,
// without), or done (including dry-run plans). Jobs come newest first, then
// contacts newest first.
//
// Jobs are read by state (index jobs_due) and their contacts by key. Done
// and the terminal failures read contacts by their writeback column, which
// has no index: an admin view, not a hot path.
func (s *Store) WritebackItems(ctx context.Context, state string, limit int) ([]WritebackItem, error) {
	switch state {
	case WritebackPending:
		return s.writebackJobs(ctx, []string{JobPending, JobRunning}, WritebackPending, limit)
	case WritebackFailed:
		items, err := s.writebackJobs(ctx, []string{JobFailed}, WritebackFailed, limit)
		if err != nil || len(items) >= limit {
			return items, err
		}
		more, err := s.writebackContacts(ctx, []string{WritebackFailed}, true, limit-len(items))
		return append(items, more...), err
	case WritebackDone:
		return s.writebackContacts(ctx, []string{WritebackDone, WritebackDryRun}, false, limit)
	}
	return nil, recontact.Errorf(recontact.EInvalid, "state must be pending, failed or done")
}

// writebackRow is what the listing reads of a contact.
type writebackRow struct {
	Source      string `db:"source"`
	TicketID    string `db:"ticket_id"`
	Writeback   string `db:"writeback"`
	Outcome     string `db:"writeback_error"`
	TagsWritten string `db:"tags_written"`
}

func (r *writebackRow) item() WritebackItem {
	it := WritebackItem{Source: recontact.Source(r.Source), TicketID: r.TicketID, State: r.Writeback,
		TagsWritten: fields(r.TagsWritten)}
	if r.Writeback == WritebackDryRun {
		it.Plan = r.Outcome
	} else {
		it.LastError = r.Outcome
	}
	return it
}

const writebackRowColumns = `c.source, c.ticket_id, c.writeback, c.writeback_error, c.tags_written`

// writebackJobs lists write-back jobs in jobStates with their contacts.
func (s *Store) writebackJobs(ctx context.Context, jobStates []string, state string, limit int) ([]WritebackItem, error) {
	q, args, err := sqlx.In(`SELECT `+jobColumns+` FROM jobs WHERE kind = ? AND state IN (?)
ORDER BY updated_ms DESC, id DESC LIMIT ?`, recontact.JobWriteback, jobStates, limit)
	if err != nil {
		return nil, err
	}
	var jobs []QueuedJob
	if err := s.db.SelectContext(ctx, &jobs, s.db.Rebind(q), args...); err != nil {
		return nil, classify(err)
	}
	out := make([]WritebackItem, 0, len(jobs))
	for _, j := range jobs {
		src, ticket, _ := strings.Cut(j.Key, ":")
		var r writebackRow
		err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+writebackRowColumns+` FROM contacts c
WHERE c.source = ? AND c.ticket_id = ?`), src, ticket)
		if errors.Is(err, sql.ErrNoRows) {
			r = writebackRow{Source: src, TicketID: ticket}
		} else if err != nil {
			return nil, classify(err)
		}
		it := r.item()
		it.JobID, it.State, it.Attempts, it.UpdatedAt = j.ID, state, j.Attempts, fromMS(j.UpdatedMS)
		if j.LastError != "" {
			it.LastError = j.LastError
		}
		out = append(out, it)
	}
	return out, nil
}

// writebackContacts lists contacts whose write-back is in states; noJob
// leaves out those with a dead-lettered job (listed with their job).
func (s *Store) writebackContacts(ctx context.Context, states []string, noJob bool, limit int) ([]WritebackItem, error) {
	cond := ""
	if noJob {
		cond = ` AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.state = 'failed' AND j.kind = ? AND j.key = c.source || ':' || c.ticket_id)`
	}
	args := []any{states}
	if noJob {
		args = append(args, recontact.JobWriteback)
	}
	q, args, err := sqlx.In(`SELECT `+writebackRowColumns+` FROM contacts c WHERE c.writeback IN (?)`+cond+`
ORDER BY c.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	var rows []writebackRow
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(q), args...); err != nil {
		return nil, classify(err)
	}
	out := make([]WritebackItem, len(rows))
	for i := range rows {
		out[i] = rows[i].item()
	}
	return out, nil
}

// RetryWriteback moves a dead-lettered write-back job back to the queue with
// fresh attempts and marks its ticket pending again. It returns the job as
// now queued: ENotFound when id is no write-back job, EConflict when the job
// is not in the dead letter.
func (s *Store) RetryWriteback(ctx context.Context, id int64) (*QueuedJob, error) {
	var j QueuedJob
	err := s.db.GetContext(ctx, &j, s.db.Rebind(`SELECT `+jobColumns+` FROM jobs WHERE id = ? AND kind = ?`), id, recontact.JobWriteback)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, recontact.Errorf(recontact.ENotFound, "no write-back job "+strconv.FormatInt(id, 10))
	}
	if err != nil {
		return nil, classify(err)
	}
	if err := s.RetryFailed(ctx, id); err != nil {
		return nil, err
	}
	src, ticket, _ := strings.Cut(j.Key, ":")
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE contacts SET writeback = ? WHERE source = ? AND ticket_id = ? AND writeback = ?`),
		WritebackPending, src, ticket, WritebackFailed); err != nil {
		return nil, classify(err)
	}
	// RetryFailed drops the job when a pending twin already carries the work:
	// that one is what now runs. A worker may have claimed it already.
	err = s.db.GetContext(ctx, &j, s.db.Rebind(`SELECT `+jobColumns+` FROM jobs WHERE kind = ? AND key = ? AND state IN (?, ?)
ORDER BY id DESC LIMIT 1`), recontact.JobWriteback, j.Key, JobPending, JobRunning)
	if err != nil {
		return nil, classify(err)
	}
	return &j, nil
}

// DeferWriteback sets a contact's write-back to "off" with a reason while it
// has not been read from its helpdesk's API (updated_at unknown), so that
// the evaluation after the read queues the write-back again. It reports false,
// changing nothing, when the read has landed meanwhile.
func (s *Store) DeferWriteback(ctx context.Context, src recontact.Source, ticketID, reason string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE contacts SET writeback = ?, writeback_error = ?
WHERE source = ? AND ticket_id = ? AND updated_ms = 0`), WritebackOff, reason, src, ticketID)
	if err != nil {
		return false, classify(err)
	}
	n, err := res.RowsAffected()
	return n == 1, classify(err)
}
