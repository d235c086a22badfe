package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
)

// PeriodQuery selects a cohort: contacts created and bookings made in
// [From, To), optionally of one partner, optionally grouped.
type PeriodQuery struct {
	From, To time.Time
	Partner  string // "" = all partners
	GroupBy  string // a metrics.Group* value
}

// Period computes the five rates' counts for a cohort. It reads the stored
// verdicts, the cohort pointers and booking_days, so its cost follows the
// contacts in the period, never the whole table.
func (s *Store) Period(ctx context.Context, q PeriodQuery) (metrics.Totals, []metrics.Group, error) {
	if !metrics.ValidGroupBy(q.GroupBy) {
		return metrics.Totals{}, nil, recontact.Errorf(recontact.EInvalid, "unknown group_by "+q.GroupBy)
	}
	if err := s.refreshRollups(ctx); err != nil {
		return metrics.Totals{}, nil, err
	}
	totals, err := s.cohort(ctx, q.From, q.To, q.Partner)
	if err != nil {
		return totals, nil, err
	}
	totals.Bookings, err = s.bookingsIn(ctx, q.From, q.To, q.Partner)
	if err != nil {
		return totals, nil, err
	}
	totals.Derive(s.settings)

	var groups []metrics.Group
	switch q.GroupBy {
	case metrics.GroupNone:
	case metrics.GroupDay, metrics.GroupWeek, metrics.GroupMonth:
		groups, err = s.timeGroups(ctx, q)
	default:
		groups, err = s.keyGroups(ctx, q, totals.Bookings)
	}
	return totals, groups, err
}

// cohortSQL counts a cohort in one pass. A contact opens its customer's
// cohort when the customer's previous contact is older than the period
// (prev_ms < from), and is its customer's second when prev_ms falls inside and
// prev2_ms does not: so distinct and repeat customers are plain sums.
const cohortSQL = `
SELECT COUNT(*) AS contacts,
	COALESCE(SUM(CASE WHEN prev_ms IS NULL OR prev_ms < ? THEN 1 ELSE 0 END), 0) AS customers,
	COALESCE(SUM(CASE WHEN prev_ms >= ? AND (prev2_ms IS NULL OR prev2_ms < ?) THEN 1 ELSE 0 END), 0) AS repeat_customers,
	COALESCE(SUM(CASE WHEN resolved_ms IS NOT NULL THEN 1 ELSE 0 END), 0) AS resolved,
	COALESCE(SUM(CASE WHEN fcr = 'fcr' THEN 1 ELSE 0 END), 0) AS first_contact_resolved,
	COALESCE(SUM(followed), 0) AS followed
FROM contacts WHERE created_ms >= ? AND created_ms < ?`

// groupedSQL counts per group where the pointers do not apply (one partner, a
// channel, a stage: the customer's previous contact may lie in another group),
// by first folding each customer's contacts in the group into one row.
const groupedSQL = `
SELECT g, COUNT(*) AS customers, SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END) AS repeat_customers,
	SUM(n) AS contacts, SUM(res) AS resolved, SUM(fcr1) AS first_contact_resolved, SUM(fol) AS followed
FROM (
	SELECT %s AS g, customer_key, COUNT(*) AS n,
		SUM(CASE WHEN resolved_ms IS NOT NULL THEN 1 ELSE 0 END) AS res,
		SUM(CASE WHEN fcr = 'fcr' THEN 1 ELSE 0 END) AS fcr1,
		SUM(followed) AS fol
	FROM contacts WHERE created_ms >= ? AND created_ms < ? %s
	GROUP BY %s, customer_key
) t GROUP BY g`

type counts struct {
	G                    sql.NullString `db:"g"`
	Contacts             int            `db:"contacts"`
	Customers            int            `db:"customers"`
	RepeatCustomers      int            `db:"repeat_customers"`
	Resolved             int            `db:"resolved"`
	FirstContactResolved int            `db:"first_contact_resolved"`
	Followed             int            `db:"followed"`
}

func (c counts) totals() metrics.Totals {
	return metrics.Totals{Contacts: c.Contacts, Customers: c.Customers, RepeatCustomers: c.RepeatCustomers,
		Resolved: c.Resolved, FirstContactResolved: c.FirstContactResolved, ContactsFollowedByOrder: c.Followed}
}

// cohort counts one period, for all partners or one: whole days from the
// rollups, other periods from the rows.
func (s *Store) cohort(ctx context.Context, from, to time.Time, partner string) (metrics.Totals, error) {
	if dayAligned(from) && dayAligned(to) {
		return s.cohortFromRollups(ctx, from, to, partner)
	}
	if partner != "" {
		rows, err := s.grouped(ctx, "partner", from, to, partner)
		if err != nil || len(rows) == 0 {
			return metrics.Totals{}, err
		}
		return rows[0].totals(), nil
	}
	var c counts
	f := ms(from)
	err := s.db.GetContext(ctx, &c, s.db.Rebind(cohortSQL), f, f, f, f, ms(to))
	return c.totals(), classify(err)
}

func (s *Store) grouped(ctx context.Context, column string, from, to time.Time, partner string) ([]counts, error) {
	filter, args := "", []any{ms(from), ms(to)}
	if partner != "" {
		filter, args = "AND partner = ?", append(args, partner)
	}
	var rows []counts
	err := s.db.SelectContext(ctx, &rows, s.db.Rebind(fmt.Sprintf(groupedSQL, column, filter, column)), args...)
	return rows, classify(err)
}

// keyGroups groups by partner, channel or stage. Channel and stage groups
// share the period's bookings: bookings carry neither.
func (s *Store) keyGroups(ctx context.Context, q PeriodQuery, periodBookings int) ([]metrics.Group, error) {
	var rows []counts
	var err error
	if q.GroupBy == metrics.GroupPartner && dayAligned(q.From) && dayAligned(q.To) {
		var byPartner map[string]counts
		byPartner, err = s.rollupCounts(ctx, q.From, q.To, q.Partner, true)
		for p, c := range byPartner {
			c.G = sql.NullString{String: p, Valid: true}
			rows = append(rows, c)
		}
	} else {
		rows, err = s.grouped(ctx, q.GroupBy, q.From, q.To, q.Partner)
	}
	if err != nil {
		return nil, err
	}
	var perPartner map[string]int
	if q.GroupBy == metrics.GroupPartner {
		if perPartner, err = s.bookingsByPartner(ctx, q.From, q.To); err != nil {
			return nil, err
		}
	}
	groups := make([]metrics.Group, 0, len(rows))
	seen := map[string]bool{}
	for _, r := range rows {
		t := r.totals()
		key := r.G.String
		seen[key] = true
		t.Bookings = periodBookings
		if perPartner != nil {
			t.Bookings = perPartner[key]
		}
		t.Derive(s.settings)
		groups = append(groups, metrics.Group{Key: groupKey(key), Totals: t})
	}
	// A partner with bookings but no contacts is a partner doing well: show it.
	for p, n := range perPartner {
		if !seen[p] && (q.Partner == "" || q.Partner == p) {
			t := metrics.Totals{Bookings: n}
			t.Derive(s.settings)
			groups = append(groups, metrics.Group{Key: groupKey(p), Totals: t})
		}
	}
	sortGroups(groups)
	return groups, nil
}

// groupKey maps the stored "" (no partner, no stage) to a null key.
func groupKey(k string) *string {
	if k == "" {
		return nil
	}
	return &k
}

func sortGroups(groups []metrics.Group) {
	slices.SortFunc(groups, func(a, b metrics.Group) int {
		switch {
		case a.Key == nil && b.Key == nil:
			return 0
		case a.Key == nil:
			return 1
		case b.Key == nil:
			return -1
		case *a.Key < *b.Key:
			return -1
		case *a.Key > *b.Key:
			return 1
		}
		return 0
	})
}

// timeGroups runs the cohort count once per bucket: each bucket is a cohort of
// its own, and a range scan per bucket needs no date functions in SQL.
func (s *Store) timeGroups(ctx context.Context, q PeriodQuery) ([]metrics.Group, error) {
	var groups []metrics.Group
	for _, b := range metrics.Buckets(q.From, q.To, q.GroupBy) {
		t, err := s.cohort(ctx, b.From, b.To, q.Partner)
		if err != nil {
			return nil, err
		}
		if t.Bookings, err = s.bookingsIn(ctx, b.From, b.To, q.Partner); err != nil {
			return nil, err
		}
		t.Derive(s.settings)
		key := b.Key
		groups = append(groups, metrics.Group{Key: &key, Totals: t})
	}
	return groups, nil
}

// bookingsIn counts non-cancelled bookings made in [from, to): whole UTC days
// from booking_days, the partial days at either end from the rows.
func (s *Store) bookingsIn(ctx context.Context, from, to time.Time, partner string) (int, error) {
	byPartner, err := s.bookingCounts(ctx, from, to, partner, partner == "")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, v := range byPartner {
		n += v
	}
	return n, nil
}

func (s *Store) bookingsByPartner(ctx context.Context, from, to time.Time) (map[string]int, error) {
	return s.bookingCounts(ctx, from, to, "", false)
}

// bookingCounts counts per partner, or with total all partners together
// under "" (whole days then come from booking_totals: one row a day).
func (s *Store) bookingCounts(ctx context.Context, from, to time.Time, partner string, total bool) (map[string]int, error) {
	out := map[string]int{}
	if !from.Before(to) {
		return out, nil
	}
	firstDay := metrics.BucketStart(from, metrics.GroupDay)
	if firstDay.Before(from) {
		firstDay = firstDay.AddDate(0, 0, 1)
	}
	lastDay := metrics.BucketStart(to, metrics.GroupDay) // exclusive
	add := func(q string, args ...any) error {
		var rows []struct {
			Partner string `db:"partner"`
			N       int    `db:"n"`
		}
		if partner != "" {
			q += " AND partner = ?"
			args = append(args, partner)
		}
		if err := s.db.SelectContext(ctx, &rows, s.db.Rebind(q+" GROUP BY partner"), args...); err != nil {
			return classify(err)
		}
		for _, r := range rows {
			out[r.Partner] += r.N
		}
		return nil
	}
	const raw = `SELECT partner, COUNT(*) AS n FROM bookings WHERE status <> 'cancelled' AND created_ms >= ? AND created_ms < ?`
	if !firstDay.Before(lastDay) { // within one day: rows only
		return out, add(raw, ms(from), ms(to))
	}
	if total {
		var n int
		err := s.db.GetContext(ctx, &n, s.db.Rebind(`SELECT COALESCE(SUM(bookings), 0) FROM booking_totals WHERE day >= ? AND day < ?`),
			ms(firstDay)/dayMS, ms(lastDay)/dayMS)
		if err != nil {
			return nil, classify(err)
		}
		out[""] += n
	} else if err := add(`SELECT partner, SUM(bookings) AS n FROM booking_days WHERE day >= ? AND day < ?`, day(firstDay), day(lastDay)); err != nil {
		return nil, err
	}
	if from.Before(firstDay) {
		if err := add(raw, ms(from), ms(firstDay)); err != nil {
			return nil, err
		}
	}
	if lastDay.Before(to) {
		if err := add(raw, ms(lastDay), ms(to)); err != nil {
			return nil, err
		}
	}
	return out, nil
}
