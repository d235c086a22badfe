package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
)

// contactRow is a contacts row as stored.
type contactRow struct {
	ID            int64         `db:"id"`
	Source        string        `db:"source"`
	TicketID      string        `db:"ticket_id"`
	CustomerKey   string        `db:"customer_key"`
	RequesterID   string        `db:"requester_id"`
	OrgID         string        `db:"org_id"`
	Partner       string        `db:"partner"`
	Channel       string        `db:"channel"`
	Status        string        `db:"status"`
	CreatedMS     int64         `db:"created_ms"`
	UpdatedMS     int64         `db:"updated_ms"`
	ResolvedMS    sql.NullInt64 `db:"resolved_ms"`
	Replies       int           `db:"replies"`
	Reopens       int           `db:"reopens"`
	BookingRef    string        `db:"booking_ref"`
	Tags          string        `db:"tags"`
	Version       int64         `db:"version"`
	Dirty         bool          `db:"dirty"` // a mark awaits evaluation; read only where contactDirty is selected
	RepeatContact int           `db:"repeat_contact"`
	Previous      string        `db:"previous"`
	FCR           string        `db:"fcr"`
	Stage         string        `db:"stage"`
	Followed      int           `db:"followed"`
	PrevMS        sql.NullInt64 `db:"prev_ms"`
	Prev2MS       sql.NullInt64 `db:"prev2_ms"`
	TagsWritten   string        `db:"tags_written"`
	NoteWritten   int           `db:"note_written"`
	Writeback     string        `db:"writeback"`
	WritebackErr  string        `db:"writeback_error"`
}

const contactColumns = `id, source, ticket_id, customer_key, requester_id, org_id, partner, channel,
	status, created_ms, updated_ms, resolved_ms, replies, reopens, booking_ref, tags, version,
	repeat_contact, previous, fcr, stage, followed, prev_ms, prev2_ms, tags_written, note_written,
	writeback, writeback_error`

// contactDirty reads whether a contact has a mark, for readers that show it.
const contactDirty = `EXISTS (SELECT 1 FROM marks WHERE contact_id = contacts.id) AS dirty`

// merge folds an incoming snapshot into the stored row. Newer state (by the
// source's updated_at) wins field by field, blanks never erase what is known,
// and activity counters add up (their deliveries are deduplicated). It reports
// whether anything a metric depends on changed.
func merge(old contactRow, in *recontact.Contact, act recontact.Activity, inferReopen bool) (contactRow, bool) {
	r := old
	inUpdated := int64(0)
	if !in.UpdatedAt.IsZero() {
		inUpdated = ms(in.UpdatedAt)
	}
	// A snapshot without updated_at (a provisional Freshdesk trigger) never
	// overrides state read from the API.
	newer := inUpdated > 0 && inUpdated >= old.UpdatedMS
	take := func(dst *string, v string) {
		if v != "" && (newer || *dst == "") {
			*dst = v
		}
	}
	take(&r.RequesterID, in.RequesterID)
	take(&r.OrgID, in.OrgID)
	take(&r.Partner, in.Partner)
	take(&r.Channel, in.Channel)
	take(&r.BookingRef, in.BookingRef)
	if key := in.CustomerKey(); key != "" {
		// An e-mail key, once known, is not replaced by a requester-id key for the
		// same requester: that only means this delivery raced the look-up.
		emailKnown := strings.Contains(r.CustomerKey, "@") && !strings.Contains(key, "@") && in.RequesterID == r.RequesterID
		if !emailKnown && (newer || isPlaceholderKey(r.CustomerKey) || strings.Contains(key, "@") && !strings.Contains(r.CustomerKey, "@")) {
			r.CustomerKey = key
		}
	}
	if r.CustomerKey == "" {
		r.CustomerKey = placeholderKey(in.Source, in.TicketID)
	}
	if newer && in.Tags != nil {
		r.Tags = strings.Join(in.Tags, " ")
	}
	if !in.CreatedAt.IsZero() {
		// created_at never changes in a helpdesk; a provisional row used the
		// receive time, which is later, so the earliest value is the truth.
		if c := ms(in.CreatedAt); c < r.CreatedMS || old.UpdatedMS == 0 {
			r.CreatedMS = c
		}
	}
	if newer && in.Status != recontact.StatusUnknown {
		wasResolved := recontact.Status(old.Status).Resolved()
		switch {
		case in.Status.Resolved() && !(wasResolved && old.ResolvedMS.Valid):
			at := in.ResolvedAt
			if at.IsZero() {
				at = in.UpdatedAt
			}
			r.ResolvedMS = nullMS(at)
		case !in.Status.Resolved():
			r.ResolvedMS = sql.NullInt64{}
			if wasResolved && inferReopen {
				r.Reopens++
			}
		}
		r.Status = string(in.Status)
	}
	if newer {
		r.UpdatedMS = inUpdated
	}
	r.Replies += act.Replies
	r.Reopens += act.Reopens

	changed := r != old
	if changed {
		r.Version++
	}
	return r, changed
}

// placeholderKey stands for a customer nobody has named yet (no e-mail, no
// requester id): a customer of one ticket, never joined to another, until a
// real key arrives.
func placeholderKey(src recontact.Source, ticketID string) string {
	return string(src) + ":ticket:" + ticketID
}

func isPlaceholderKey(k string) bool { return k == "" || strings.Contains(k, ":ticket:") }

const insertContactSQL = `
INSERT INTO contacts (source, ticket_id, customer_key, requester_id, org_id, partner, channel, status,
	created_ms, updated_ms, resolved_ms, replies, reopens, booking_ref, tags, version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
ON CONFLICT (source, ticket_id) DO NOTHING
RETURNING id`

const updateContactSQL = `
UPDATE contacts SET customer_key = ?, requester_id = ?, org_id = ?, partner = ?, channel = ?,
	status = ?, created_ms = ?, updated_ms = ?, resolved_ms = ?, replies = ?, reopens = ?,
	booking_ref = ?, tags = ?, version = ?
WHERE id = ?`

// lockContact reads a contact for update. SQLite transactions here are
// IMMEDIATE, so the writer lock is already held and FOR UPDATE is not needed.
func (s *Store) lockContact(ctx context.Context, tx *sqlx.Tx, src recontact.Source, ticketID string) (contactRow, bool, error) {
	q := `SELECT ` + contactColumns + ` FROM contacts WHERE source = ? AND ticket_id = ?`
	if s.dialect == Postgres {
		q += " FOR UPDATE"
	}
	var r contactRow
	err := tx.GetContext(ctx, &r, tx.Rebind(q), src, ticketID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// upsertContact applies one snapshot. received stands in for created_at when
// a provisional snapshot has none.
func (s *Store) upsertContact(ctx context.Context, tx *sqlx.Tx, in *recontact.Contact, act recontact.Activity, inferReopen bool, received time.Time) error {
	if in.TicketID == "" {
		return recontact.Errorf(recontact.EInvalid, "missing field ticket_id")
	}
	if err := s.resolveCustomer(ctx, tx, in); err != nil {
		return err
	}
	old, found, err := s.lockContact(ctx, tx, in.Source, in.TicketID)
	if err != nil {
		return err
	}
	if !found {
		c := *in
		if c.CreatedAt.IsZero() {
			c.CreatedAt = received
		}
		r, _ := merge(contactRow{Source: string(in.Source), TicketID: in.TicketID, CreatedMS: ms(c.CreatedAt), FCR: "pending"}, &c, act, inferReopen)
		var id int64
		err := tx.QueryRowxContext(ctx, tx.Rebind(insertContactSQL), r.Source, r.TicketID, r.CustomerKey,
			r.RequesterID, r.OrgID, r.Partner, r.Channel, r.Status, r.CreatedMS, r.UpdatedMS, r.ResolvedMS,
			r.Replies, r.Reopens, r.BookingRef, r.Tags).Scan(&id)
		if err == nil {
			if err := s.markContacts(ctx, tx, id); err != nil {
				return err
			}
			return s.afterContactChange(ctx, tx, contactRow{}, r)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Another transaction inserted it first: merge into theirs.
		if old, found, err = s.lockContact(ctx, tx, in.Source, in.TicketID); err != nil || !found {
			return errors.Join(err, errors.New("contact vanished during upsert"))
		}
	}
	r, changed := merge(old, in, act, inferReopen)
	if !changed {
		return nil
	}
	_, err = tx.ExecContext(ctx, tx.Rebind(updateContactSQL), r.CustomerKey, r.RequesterID, r.OrgID, r.Partner,
		r.Channel, r.Status, r.CreatedMS, r.UpdatedMS, r.ResolvedMS, r.Replies, r.Reopens, r.BookingRef,
		r.Tags, r.Version, r.ID)
	if err == nil {
		err = s.markContacts(ctx, tx, r.ID)
	}
	if err != nil {
		return err
	}
	return s.afterContactChange(ctx, tx, old, r)
}

// afterContactChange queues what a change implies.
func (s *Store) afterContactChange(ctx context.Context, tx *sqlx.Tx, old, r contactRow) error {
	for _, j := range changeJobs(old, r) {
		if err := s.enqueue(ctx, tx, j); err != nil {
			return err
		}
	}
	return nil
}

// changeJobs are the jobs a change implies: when a ticket becomes resolved,
// its reply and reopen counts are read from the helpdesk once.
func changeJobs(old, r contactRow) []recontact.Job {
	if !r.ResolvedMS.Valid || old.ResolvedMS.Valid {
		return nil
	}
	switch recontact.Source(r.Source) {
	case recontact.SourceZendesk:
		return []recontact.Job{{Kind: recontact.JobZendeskMetrics, Key: r.TicketID}}
	case recontact.SourceFreshdesk:
		return []recontact.Job{{Kind: recontact.JobFreshdeskTicket, Key: r.TicketID}}
	}
	return nil
}

// resolveCustomer fills an e-mail-less Zendesk contact from the look-up
// caches, or queues the look-up.
func (s *Store) resolveCustomer(ctx context.Context, tx *sqlx.Tx, c *recontact.Contact) error {
	jobs, err := s.resolveCustomers(ctx, tx, []*recontact.Contact{c})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		if err := s.enqueue(ctx, tx, j); err != nil {
			return err
		}
	}
	return nil
}

// resolveCustomers fills e-mail-less Zendesk contacts from the look-up
// caches (event webhooks carry ids, not e-mails), one query per cache for
// all of them, and returns the look-ups to queue for what is not cached.
func (s *Store) resolveCustomers(ctx context.Context, tx *sqlx.Tx, cs []*recontact.Contact) ([]recontact.Job, error) {
	var requesters, orgs []string
	for _, c := range cs {
		if c.Source != recontact.SourceZendesk {
			continue
		}
		if c.CustomerEmail == "" && c.RequesterID != "" {
			requesters = append(requesters, c.RequesterID)
		}
		if c.Partner == "" && c.OrgID != "" {
			orgs = append(orgs, c.OrgID)
		}
	}
	keys, err := s.cached(ctx, tx, `SELECT requester_id, customer_key FROM requesters WHERE source = ? AND requester_id IN (?)`, requesters)
	if err != nil {
		return nil, err
	}
	partners, err := s.cached(ctx, tx, `SELECT org_id, partner FROM orgs WHERE source = ? AND org_id IN (?)`, orgs)
	if err != nil {
		return nil, err
	}
	var jobs []recontact.Job
	for _, c := range cs {
		if c.Source != recontact.SourceZendesk {
			continue
		}
		if c.CustomerEmail == "" && c.RequesterID != "" {
			key, ok := keys[c.RequesterID]
			switch {
			case !ok:
				jobs = append(jobs, recontact.Job{Kind: recontact.JobZendeskRequester, Key: c.RequesterID})
			case strings.Contains(key, "@"):
				c.CustomerEmail = key
			}
		}
		if c.Partner == "" && c.OrgID != "" {
			if partner, ok := partners[c.OrgID]; ok {
				c.Partner = partner
			} else {
				jobs = append(jobs, recontact.Job{Kind: recontact.JobZendeskOrg, Key: c.OrgID})
			}
		}
	}
	return jobs, nil
}

// cached reads id → value pairs of Zendesk look-up cache q for ids.
func (s *Store) cached(ctx context.Context, tx *sqlx.Tx, q string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	slices.Sort(ids)
	for part := range slices.Chunk(slices.Compact(ids), rowsPerStatement) {
		q, args, err := sqlx.In(q, recontact.SourceZendesk, part)
		if err != nil {
			return nil, err
		}
		rows, err := tx.QueryContext(ctx, tx.Rebind(q), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, v string
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = v
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpsertContact applies a snapshot read from a helpdesk API (enrichment,
// backfill, reconciliation) through the same merge as webhooks.
func (s *Store) UpsertContact(ctx context.Context, c *recontact.Contact) error {
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		return s.upsertContact(ctx, tx, c, recontact.Activity{}, true, s.Now())
	})
	if err == nil {
		s.notifyJobs()
	}
	return err
}

// SetCounts replaces a ticket's reply and reopen counts with the helpdesk's
// own figures, read once per resolution.
func (s *Store) SetCounts(ctx context.Context, src recontact.Source, ticketID string, replies, reopens int, resolvedAt time.Time) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		old, found, err := s.lockContact(ctx, tx, src, ticketID)
		if err != nil || !found {
			return err
		}
		r := old
		r.Replies, r.Reopens = replies, reopens
		if !resolvedAt.IsZero() && recontact.Status(r.Status).Resolved() {
			r.ResolvedMS = nullMS(resolvedAt)
		}
		if r == old {
			return nil
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE contacts SET replies = ?, reopens = ?, resolved_ms = ?, version = version + 1 WHERE id = ?`),
			r.Replies, r.Reopens, r.ResolvedMS, r.ID)
		if err != nil {
			return err
		}
		return s.markContacts(ctx, tx, r.ID)
	})
}

// SetRequester caches a requester's customer key and re-keys their contacts.
func (s *Store) SetRequester(ctx context.Context, src recontact.Source, requesterID, email, orgID string) error {
	key := recontact.CustomerKey(src, email, requesterID)
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`
INSERT INTO requesters (source, requester_id, customer_key, org_id, fetched_ms) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (source, requester_id) DO UPDATE SET customer_key = excluded.customer_key,
	org_id = excluded.org_id, fetched_ms = excluded.fetched_ms`), src, requesterID, key, orgID, ms(s.Now()))
		if err != nil {
			return err
		}
		// The old key's customer loses these contacts: mark all of its
		// contacts (the moving ones among them) so their neighbours are
		// re-evaluated.
		err = s.markWhere(ctx, tx, `customer_key IN
	(SELECT customer_key FROM contacts WHERE source = ? AND requester_id = ? AND customer_key <> ?)`, src, requesterID, key)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`
UPDATE contacts SET customer_key = ?, version = version + 1
WHERE source = ? AND requester_id = ? AND customer_key <> ?`), key, src, requesterID, key)
		return err
	})
}

// SetOrg caches an organisation's partner key and fills it on its contacts.
func (s *Store) SetOrg(ctx context.Context, src recontact.Source, orgID, partner string) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(`
INSERT INTO orgs (source, org_id, partner, fetched_ms) VALUES (?, ?, ?, ?)
ON CONFLICT (source, org_id) DO UPDATE SET partner = excluded.partner, fetched_ms = excluded.fetched_ms`),
			src, orgID, partner, ms(s.Now()))
		if err != nil {
			return err
		}
		if err := s.markWhere(ctx, tx, `source = ? AND org_id = ? AND partner <> ?`, src, orgID, partner); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`
UPDATE contacts SET partner = ?, version = version + 1
WHERE source = ? AND org_id = ? AND partner <> ?`), partner, src, orgID, partner)
		return err
	})
}

// StoredContact is a contact as the API shows it.
type StoredContact struct {
	Source           recontact.Source
	TicketID         string
	CustomerKey      string
	RequesterID      string
	Partner          string
	Channel          string
	Status           recontact.Status
	CreatedAt        time.Time
	UpdatedAt        time.Time
	ResolvedAt       time.Time
	Replies, Reopens int
	BookingRef       string
	Tags             []string
	Evaluated        bool // false until the evaluator has seen the latest change
	Repeat           bool
	Previous         []string // ticket ids ("source:id" when from the other helpdesk)
	FCR              string
	FCRFinal         bool
	Stage            string
	FollowedByOrder  bool
	TagsWritten      []string // the tags recontact last wrote
	NoteWritten      bool
	Writeback        string // off, pending, done, failed or dry-run
	WritebackError   string
}

func (r *contactRow) stored() *StoredContact {
	c := &StoredContact{
		Source: recontact.Source(r.Source), TicketID: r.TicketID, CustomerKey: r.CustomerKey,
		RequesterID: r.RequesterID, Partner: r.Partner, Channel: r.Channel,
		Status: recontact.Status(r.Status), CreatedAt: fromMS(r.CreatedMS), ResolvedAt: fromNullMS(r.ResolvedMS),
		Replies: r.Replies, Reopens: r.Reopens, BookingRef: r.BookingRef, Tags: fields(r.Tags),
		Evaluated: !r.Dirty, Repeat: r.RepeatContact == 1, FCR: r.FCR,
		Stage: r.Stage, FollowedByOrder: r.Followed == 1, Previous: fields(r.Previous),
		TagsWritten: fields(r.TagsWritten), NoteWritten: r.NoteWritten == 1, Writeback: r.Writeback,
		WritebackError: r.WritebackErr,
	}
	if r.UpdatedMS > 0 {
		c.UpdatedAt = fromMS(r.UpdatedMS)
	}
	return c
}

// fields splits a space-separated column; never nil, so JSON shows [].
func fields(s string) []string {
	f := strings.Fields(s)
	if f == nil {
		return []string{}
	}
	return slices.Clip(f)
}

// Contact reads one contact; ENotFound when unknown.
func (s *Store) Contact(ctx context.Context, src recontact.Source, ticketID string) (*StoredContact, error) {
	var r contactRow
	err := s.db.GetContext(ctx, &r, s.db.Rebind(`SELECT `+contactColumns+`, `+contactDirty+` FROM contacts WHERE source = ? AND ticket_id = ?`), src, ticketID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, recontact.Errorf(recontact.ENotFound, "no "+string(src)+" ticket "+ticketID)
	}
	if err != nil {
		return nil, classify(err)
	}
	return r.stored(), nil
}

// MarkWritten records what a write-back put on a ticket (or why it could not).
func (s *Store) MarkWritten(ctx context.Context, src recontact.Source, ticketID string, tags []string, note bool, state, errMsg string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`
UPDATE contacts SET tags_written = ?, note_written = ?, writeback = ?, writeback_error = ?
WHERE source = ? AND ticket_id = ?`), strings.Join(tags, " "), b2i(note), state, errMsg, src, ticketID)
	return classify(err)
}

// Statuses returns the status of each of a customer's tickets named by
// "source:id" refs (for the repeat-contact note).
func (s *Store) Statuses(ctx context.Context, refs []string) (map[string]recontact.Status, error) {
	out := map[string]recontact.Status{}
	for _, ref := range refs {
		src, id, ok := strings.Cut(ref, ":")
		if !ok {
			continue
		}
		var st string
		err := s.db.GetContext(ctx, &st, s.db.Rebind(`SELECT status FROM contacts WHERE source = ? AND ticket_id = ?`), src, id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, classify(err)
		}
		out[ref] = recontact.Status(st)
	}
	return out, nil
}
