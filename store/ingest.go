package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
)

// Ingest commits one authentic delivery: its idempotency key, raw body, the
// contact or booking it carries and its follow-up jobs, in one transaction.
// With GroupCommit it commits the key, the raw body and the delivery queued
// in the inbox, and the applier does the rest right behind (inbox.go).
// It returns duplicate=true, changing nothing, when the key was seen before.
// When it returns nil the delivery is durable.
func (s *Store) Ingest(ctx context.Context, d *recontact.Delivery) (duplicate bool, err error) {
	if s.group != nil {
		return s.group.submit(ctx, d)
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		duplicate, err = s.ingest(ctx, tx, d)
		return err
	})
	if err == nil && !duplicate {
		s.notifyJobs()
	}
	return duplicate, err
}

func (s *Store) ingest(ctx context.Context, tx *sqlx.Tx, d *recontact.Delivery) (bool, error) {
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = s.Now()
	}
	fresh, err := s.claimDelivery(ctx, tx, d)
	if err != nil || !fresh {
		return !fresh, err
	}
	return false, s.applyOne(ctx, tx, d)
}

// applyOne applies a claimed delivery to its contact or booking and queues
// its jobs.
func (s *Store) applyOne(ctx context.Context, tx *sqlx.Tx, d *recontact.Delivery) error {
	if d.Contact != nil {
		// Deliveries that report activity (event webhooks) count reopens from the
		// event; the others can only infer a reopen from solved → open snapshots.
		inferReopen := !d.ReportsActivity
		if err := s.upsertContact(ctx, tx, d.Contact, d.Activity, inferReopen, d.ReceivedAt); err != nil {
			return err
		}
	}
	if d.Booking != nil {
		if err := s.upsertBooking(ctx, tx, d.Booking); err != nil {
			return err
		}
	}
	for _, j := range d.Jobs {
		if err := s.enqueue(ctx, tx, j); err != nil {
			return err
		}
	}
	return nil
}

// claimDelivery records the delivery key and body. With a dedupe window the
// same key counts as new again once the window has passed (the row is
// refreshed); without one a key is claimed once.
func (s *Store) claimDelivery(ctx context.Context, tx *sqlx.Tx, d *recontact.Delivery) (bool, error) {
	if d.Key == "" {
		return false, recontact.Errorf(recontact.EInvalid, "delivery has no idempotency key")
	}
	var q string
	args := []any{d.Source, d.Key, ms(d.ReceivedAt), d.Body}
	if d.DedupeWindow > 0 {
		q = `INSERT INTO deliveries (source, dedupe_key, received_ms, body) VALUES (?, ?, ?, ?)
ON CONFLICT (source, dedupe_key) DO UPDATE SET received_ms = excluded.received_ms, body = excluded.body
WHERE deliveries.received_ms < ?
RETURNING received_ms`
		args = append(args, ms(d.ReceivedAt.Add(-d.DedupeWindow)))
	} else {
		q = `INSERT INTO deliveries (source, dedupe_key, received_ms, body) VALUES (?, ?, ?, ?)
ON CONFLICT (source, dedupe_key) DO NOTHING
RETURNING received_ms`
	}
	var got int64
	err := tx.QueryRowxContext(ctx, tx.Rebind(q), args...).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

type bookingRow struct {
	ID          string `db:"id"`
	Partner     string `db:"partner"`
	CustomerKey string `db:"customer_key"`
	CreatedMS   int64  `db:"created_ms"`
	CheckIn     string `db:"check_in"`
	CheckOut    string `db:"check_out"`
	Status      string `db:"status"`
	UpdatedMS   int64  `db:"updated_ms"`
}

const bookingColumns = `id, partner, customer_key, created_ms, check_in, check_out, status, updated_ms`

func (b *bookingRow) counted() bool { return b.ID != "" && b.Status != recontact.BookingCancelled }

func (b *bookingRow) booking() recontact.Booking {
	return recontact.Booking{ID: b.ID, Partner: b.Partner, CustomerKey: b.CustomerKey, CreatedAt: fromMS(b.CreatedMS),
		CheckIn: b.CheckIn, CheckOut: b.CheckOut, Status: b.Status, UpdatedAt: fromMS(b.UpdatedMS)}
}

// upsertBooking applies a booking unless a newer version is stored, keeps
// booking_days in step, and marks the customer's contacts for re-evaluation
// (stage and contact-to-order depend on bookings).
func (s *Store) upsertBooking(ctx context.Context, tx *sqlx.Tx, b *recontact.Booking) error {
	if b.ID == "" {
		return recontact.Errorf(recontact.EInvalid, "missing field data.id")
	}
	key := b.CustomerKey
	if key == "" {
		key = recontact.NormaliseEmail(b.CustomerEmail)
	}
	q := `SELECT ` + bookingColumns + ` FROM bookings WHERE id = ?`
	if s.dialect == Postgres {
		q += " FOR UPDATE"
	}
	var old bookingRow
	if err := tx.GetContext(ctx, &old, tx.Rebind(q), b.ID); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	updated := b.UpdatedAt
	if updated.IsZero() {
		updated = b.CreatedAt
	}
	if old.ID != "" && ms(updated) < old.UpdatedMS {
		return nil // older than what we have: arrival order must not matter
	}
	nb := bookingRow{ID: b.ID, Partner: b.Partner, CustomerKey: key, CreatedMS: ms(b.CreatedAt),
		CheckIn: b.CheckIn, CheckOut: b.CheckOut, Status: b.Status, UpdatedMS: ms(updated)}
	if nb == old {
		return nil
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`
INSERT INTO bookings (`+bookingColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET partner = excluded.partner, customer_key = excluded.customer_key,
	created_ms = excluded.created_ms, check_in = excluded.check_in, check_out = excluded.check_out,
	status = excluded.status, updated_ms = excluded.updated_ms`),
		nb.ID, nb.Partner, nb.CustomerKey, nb.CreatedMS, nb.CheckIn, nb.CheckOut, nb.Status, nb.UpdatedMS)
	if err != nil {
		return err
	}
	if old.counted() {
		if err := s.addBookingDay(ctx, tx, fromMS(old.CreatedMS), old.Partner, -1); err != nil {
			return err
		}
	}
	if nb.counted() {
		if err := s.addBookingDay(ctx, tx, fromMS(nb.CreatedMS), nb.Partner, 1); err != nil {
			return err
		}
	}
	// Every verdict of the customer may depend on a booking.
	return s.markWhere(ctx, tx, `customer_key IN (?, ?) AND NOT EXISTS (SELECT 1 FROM marks WHERE contact_id = contacts.id)`,
		nb.CustomerKey, old.CustomerKey)
}

func (s *Store) addBookingDay(ctx context.Context, tx *sqlx.Tx, t time.Time, partner string, n int) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`
INSERT INTO booking_days (day, partner, bookings) VALUES (?, ?, ?)
ON CONFLICT (day, partner) DO UPDATE SET bookings = booking_days.bookings + excluded.bookings`), day(t), partner, n)
	return err
}

// UpsertBooking applies a booking outside a webhook (imports).
func (s *Store) UpsertBooking(ctx context.Context, b *recontact.Booking) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error { return s.upsertBooking(ctx, tx, b) })
}
