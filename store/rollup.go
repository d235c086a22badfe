package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact/metrics"
)

// dayMS is one UTC day in milliseconds: rollup days are created_ms / dayMS.
const dayMS = 24 * 60 * 60 * 1000

// dayAligned reports whether t starts a UTC day. The rollups hold whole days,
// so only periods from midnight to midnight can be read from them.
func dayAligned(t time.Time) bool { return t.UnixMilli()%dayMS == 0 }

// refreshRollups recomputes the rollup rows of the days the triggers on
// contacts and booking_days marked stale. The marks are deleted before the days are read, in
// the same transaction: a change committed after the delete leaves its own
// mark for the next refresh, so no change is ever lost (READ COMMITTED is
// enough). Without marks this is one indexed read.
func (s *Store) refreshRollups(ctx context.Context) error {
	var one int
	err := s.db.GetContext(ctx, &one, `SELECT 1 FROM rollup_stale LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return classify(err)
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if s.dialect == Postgres {
			// One refresher at a time: two rebuilding the same day would
			// collide on its keys. SQLite's write lock already does this.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('rollup_stale'))`); err != nil {
				return err
			}
		}
		var marks []struct {
			Day  int64 `db:"day"`
			Kind int   `db:"kind"`
		}
		if err := tx.SelectContext(ctx, &marks, `DELETE FROM rollup_stale RETURNING day, kind`); err != nil {
			return err
		}
		var days, bookingDays []int64
		for _, m := range marks {
			if m.Kind == 1 {
				bookingDays = append(bookingDays, m.Day)
			} else {
				days = append(days, m.Day)
			}
		}
		slices.Sort(bookingDays)
		for _, d := range slices.Compact(bookingDays) {
			if err := s.rebuildBookingTotal(ctx, tx, d); err != nil {
				return err
			}
		}
		slices.Sort(days)
		days = slices.Compact(days)
		// Consecutive days are recomputed by one set of range statements.
		for len(days) > 0 {
			n := 1
			for n < len(days) && days[n] == days[n-1]+1 {
				n++
			}
			if err := s.rebuildDays(ctx, tx, days[0], days[n-1]+1); err != nil {
				return err
			}
			days = days[n:]
		}
		return nil
	})
}

// rollupSQL rebuilds the days [?, ?) of each rollup from the contacts; each
// statement takes the range as days, then as milliseconds.
var rollupSQL = []string{
	`DELETE FROM contact_days WHERE day >= ? AND day < ?`,
	`DELETE FROM contact_totals WHERE day >= ? AND day < ?`,
	`DELETE FROM customer_links WHERE day >= ? AND day < ?`,
	`DELETE FROM partner_links WHERE day >= ? AND day < ?`,
	`INSERT INTO contact_days (day, partner, contacts, resolved, fcr, followed)
SELECT created_ms / 86400000, partner, COUNT(*),
	SUM(CASE WHEN resolved_ms IS NOT NULL THEN 1 ELSE 0 END),
	SUM(CASE WHEN fcr = 'fcr' THEN 1 ELSE 0 END), SUM(followed)
FROM contacts WHERE created_ms >= ? AND created_ms < ?
GROUP BY created_ms / 86400000, partner`,
	`INSERT INTO contact_totals (day, contacts, resolved, fcr, followed)
SELECT day, SUM(contacts), SUM(resolved), SUM(fcr), SUM(followed) FROM contact_days
WHERE day >= ? AND day < ? GROUP BY day`,
	`INSERT INTO customer_links (day, hops, since, n)
SELECT day, hops, since, COUNT(*) FROM (
	SELECT created_ms / 86400000 AS day, 1 AS hops, prev_ms / 86400000 AS since
	FROM contacts WHERE created_ms >= ? AND created_ms < ? AND prev_ms IS NOT NULL
	UNION ALL
	SELECT created_ms / 86400000, 2, prev2_ms / 86400000
	FROM contacts WHERE created_ms >= ? AND created_ms < ? AND prev2_ms IS NOT NULL
) l GROUP BY day, hops, since`,
	// The previous contacts with the same partner are looked up here rather
	// than stored: the triggers mark the days of the next two whenever a
	// contact moves. Ties in created_ms are broken by id; they share a day.
	`INSERT INTO partner_links (day, partner, hops, since, n)
SELECT day, partner, hops, since, COUNT(*) FROM (
	SELECT c.created_ms / 86400000 AS day, c.partner, 1 AS hops,
		(SELECT p.created_ms FROM contacts p
		WHERE p.customer_key = c.customer_key AND p.partner = c.partner
			AND (p.created_ms < c.created_ms OR (p.created_ms = c.created_ms AND p.id < c.id))
		ORDER BY p.created_ms DESC, p.id DESC LIMIT 1) / 86400000 AS since
	FROM contacts c WHERE c.created_ms >= ? AND c.created_ms < ?
	UNION ALL
	SELECT c.created_ms / 86400000, c.partner, 2,
		(SELECT p.created_ms FROM contacts p
		WHERE p.customer_key = c.customer_key AND p.partner = c.partner
			AND (p.created_ms < c.created_ms OR (p.created_ms = c.created_ms AND p.id < c.id))
		ORDER BY p.created_ms DESC, p.id DESC LIMIT 1 OFFSET 1) / 86400000
	FROM contacts c WHERE c.created_ms >= ? AND c.created_ms < ?
) l WHERE since IS NOT NULL GROUP BY day, partner, hops, since`,
}

func (s *Store) rebuildDays(ctx context.Context, tx *sqlx.Tx, from, to int64) error {
	for i, q := range rollupSQL {
		args := []any{from, to}
		switch i {
		case 4:
			args = []any{from * dayMS, to * dayMS}
		case 6, 7:
			args = []any{from * dayMS, to * dayMS, from * dayMS, to * dayMS}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return err
		}
	}
	return nil
}

// rebuildBookingTotal sums one day of booking_days (kept by the booking's
// transaction) over the partners.
func (s *Store) rebuildBookingTotal(ctx context.Context, tx *sqlx.Tx, d int64) error {
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM booking_totals WHERE day = ?`), d); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO booking_totals (day, bookings)
SELECT ?, COALESCE(SUM(bookings), 0) FROM booking_days WHERE day = ?`), d, day(fromMS(d*dayMS)))
	return err
}

// rollupCounts counts the cohort [from, to), both day-aligned, from the
// rollups: per partner when byPartner (links within each partner), else for
// all partners together (links across partners), optionally of one partner.
// A contact whose previous contact lies in the period is a repeat inside it,
// so customers = contacts - links(1) and repeat customers = links(1) -
// links(2): a customer with k contacts in the period has k-1 and k-2 of them.
func (s *Store) rollupCounts(ctx context.Context, from, to time.Time, partner string, byPartner bool) (map[string]counts, error) {
	f, t := ms(from)/dayMS, ms(to)/dayMS
	filter, args := "", []any{f, t}
	if partner != "" {
		filter, args = " AND partner = ?", append(args, partner)
	}
	key, group, table := "''", "", "contact_totals"
	if byPartner || partner != "" {
		key, group, table = "partner", " GROUP BY partner", "contact_days"
	}
	var days []counts
	err := s.db.SelectContext(ctx, &days, s.db.Rebind(`SELECT `+key+` AS g, COALESCE(SUM(contacts), 0) AS contacts,
	COALESCE(SUM(resolved), 0) AS resolved, COALESCE(SUM(fcr), 0) AS first_contact_resolved, COALESCE(SUM(followed), 0) AS followed
FROM `+table+` WHERE day >= ? AND day < ?`+filter+group), args...)
	if err != nil {
		return nil, classify(err)
	}
	out := make(map[string]counts, len(days))
	for _, d := range days {
		out[d.G.String] = d
	}
	links := `SELECT '' AS g, hops, COALESCE(SUM(n), 0) AS n FROM customer_links
WHERE day >= ? AND day < ? AND since >= ? GROUP BY hops`
	if key == "partner" {
		links = `SELECT partner AS g, hops, SUM(n) AS n FROM partner_links
WHERE day >= ? AND day < ? AND since >= ?` + filter + ` GROUP BY partner, hops`
	}
	var rows []struct {
		G    string `db:"g"`
		Hops int    `db:"hops"`
		N    int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(links), append([]any{f, t, f}, args[2:]...)...); err != nil {
		return nil, classify(err)
	}
	for _, r := range rows {
		c := out[r.G]
		if r.Hops == 1 {
			c.Customers -= r.N
			c.RepeatCustomers += r.N
		} else {
			c.RepeatCustomers -= r.N
		}
		out[r.G] = c
	}
	for g, c := range out {
		c.Customers += c.Contacts
		out[g] = c
	}
	return out, nil
}

// cohortFromRollups is cohort for a day-aligned period.
func (s *Store) cohortFromRollups(ctx context.Context, from, to time.Time, partner string) (metrics.Totals, error) {
	byKey, err := s.rollupCounts(ctx, from, to, partner, false)
	if err != nil {
		return metrics.Totals{}, err
	}
	var c counts
	for _, v := range byKey { // at most one key
		c = v
	}
	return c.totals(), nil
}
