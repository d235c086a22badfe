package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
)

// FixtureContact is one contact as LoadFixture stores it: already evaluated,
// with its verdict and its cohort pointers.
type FixtureContact struct {
	Contact recontact.Contact
	// CustomerKey is the stored key; "" means Contact.CustomerKey(). Callers
	// that know it save a million e-mail parses.
	CustomerKey string
	Verdict     metrics.Verdict
	// Prev and Prev2 are the creation times of the customer's previous two
	// contacts (ordered as evaluation orders them); zero when there are none.
	Prev, Prev2 time.Time
}

// LoadFixture bulk-inserts contacts that are already evaluated, and bookings,
// then rebuilds the indexes and refreshes the planner's statistics. It is for
// benchmarks and test fixtures only: it trusts the verdicts and pointers it is
// given, marks every contact clean, queues no job and takes no customer lock.
// Real traffic goes through Ingest and EvaluateDirty.
//
// Rows are written in the order given, which becomes their physical order:
// pass them oldest first, as live traffic would arrive, or range scans over
// created_ms read far more pages than they would in production. booking_days
// is computed here and added to what is stored, and the contact rollups are
// rebuilt from all rows (the triggers are off meanwhile), so LoadFixture may
// be called again with more rows (ids must not repeat). If it fails, throw
// the database away: part of the rows may be in.
func (s *Store) LoadFixture(ctx context.Context, contacts []FixtureContact, bookings []recontact.Booking) error {
	err := s.withoutIndexes(ctx, "contacts", func() error {
		return s.bulkInsert(ctx, "contacts", fixtureContactColumns, len(contacts), func(i int, row []any) {
			contactValues(&contacts[i], row)
		})
	})
	if err != nil {
		return fmt.Errorf("load contacts: %w", err)
	}
	err = s.withoutIndexes(ctx, "bookings", func() error {
		return s.bulkInsert(ctx, "bookings", fixtureBookingColumns, len(bookings), func(i int, row []any) {
			bookingValues(&bookings[i], row)
		})
	})
	if err != nil {
		return fmt.Errorf("load bookings: %w", err)
	}
	if err := s.addBookingDays(ctx, bookingDays(bookings)); err != nil {
		return fmt.Errorf("load booking_days: %w", err)
	}
	// The triggers were off during the load: mark every day and fill the
	// contact rollups from the rows in one pass.
	if _, err := s.db.ExecContext(ctx, `INSERT INTO rollup_stale (day) SELECT DISTINCT created_ms / 86400000 FROM contacts`); err != nil {
		return fmt.Errorf("load rollups: %w", classify(err))
	}
	if err := s.refreshRollups(ctx); err != nil {
		return fmt.Errorf("load rollups: %w", err)
	}
	if err := s.analyze(ctx); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// withoutIndexes runs load with table's secondary indexes dropped and builds
// them again afterwards, even when load fails: one sorted build is many times
// faster than keeping indexes on random keys (customer_key) in step row by
// row. Indexes that enforce a constraint stay. The definitions are read from
// the catalog, so the migrations remain their only source. The table's
// triggers are off meanwhile too (they would look rows up in the dropped
// indexes); the caller redoes their work.
func (s *Store) withoutIndexes(ctx context.Context, table string, load func() error) error {
	defs, err := s.secondaryIndexes(ctx, table)
	if err != nil {
		return classify(err)
	}
	err = s.inTx(ctx, func(tx *sqlx.Tx) error {
		for name := range defs {
			if _, err := tx.ExecContext(ctx, `DROP `+defs[name].kind+` `+name); err != nil {
				return err
			}
		}
		if s.dialect == Postgres {
			_, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` DISABLE TRIGGER USER`)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	loadErr := load()
	err = s.inTx(context.WithoutCancel(ctx), func(tx *sqlx.Tx) error {
		if s.dialect == Postgres {
			// Sort in memory rather than in temporary files.
			if _, err := tx.ExecContext(ctx, `SET LOCAL maintenance_work_mem = '1GB'`); err != nil {
				return err
			}
		}
		for _, name := range slices.Sorted(maps.Keys(defs)) {
			if _, err := tx.ExecContext(ctx, defs[name].sql); err != nil {
				return fmt.Errorf("rebuild %s %s: %w", defs[name].kind, name, err)
			}
		}
		if s.dialect == Postgres {
			_, err := tx.ExecContext(ctx, `ALTER TABLE `+table+` ENABLE TRIGGER USER`)
			return err
		}
		return nil
	})
	if loadErr != nil {
		return loadErr
	}
	return err
}

// schemaObject is a dropped index or (SQLite) trigger and how to recreate it.
type schemaObject struct{ kind, sql string }

// secondaryIndexes maps the name of each of table's indexes that no
// constraint (primary key, UNIQUE) owns, and on SQLite of its triggers
// (which cannot be disabled there), to the statement that creates it.
func (s *Store) secondaryIndexes(ctx context.Context, table string) (map[string]schemaObject, error) {
	q := `SELECT name, upper(type) AS kind, sql AS def FROM sqlite_master
WHERE type IN ('index', 'trigger') AND tbl_name = ? AND sql IS NOT NULL`
	if s.dialect == Postgres {
		q = `SELECT c.relname AS name, 'INDEX' AS kind, pg_get_indexdef(i.indexrelid) AS def
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`
	}
	var rows []struct {
		Name string `db:"name"`
		Kind string `db:"kind"`
		Def  string `db:"def"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, table); err != nil {
		return nil, err
	}
	defs := map[string]schemaObject{}
	for _, r := range rows {
		defs[r.Name] = schemaObject{r.Kind, r.Def}
	}
	return defs, nil
}

var fixtureContactColumns = []string{"source", "ticket_id", "customer_key", "requester_id", "org_id",
	"partner", "channel", "status", "created_ms", "updated_ms", "resolved_ms", "replies", "reopens",
	"booking_ref", "tags", "version", "repeat_contact", "previous", "fcr", "stage", "followed",
	"prev_ms", "prev2_ms"}

var fixtureBookingColumns = strings.Split(strings.ReplaceAll(bookingColumns, " ", ""), ",")

// contactValues fills row in the order of fixtureContactColumns. NULLs are
// untyped nil, which both drivers (and COPY) accept.
func contactValues(fc *FixtureContact, row []any) {
	c := &fc.Contact
	key := fc.CustomerKey
	if key == "" {
		key = c.CustomerKey()
	}
	if key == "" {
		key = placeholderKey(c.Source, c.TicketID) // as Ingest would store it
	}
	updated := c.UpdatedAt
	if updated.IsZero() {
		updated = c.CreatedAt
	}
	fcr := fc.Verdict.FCR
	if fcr == "" {
		fcr = metrics.FCRPending
	}
	row[0], row[1], row[2], row[3], row[4] = string(c.Source), c.TicketID, key, c.RequesterID, c.OrgID
	row[5], row[6], row[7] = c.Partner, c.Channel, string(c.Status)
	row[8], row[9], row[10] = ms(c.CreatedAt), ms(updated), nullable(c.ResolvedAt)
	row[11], row[12], row[13], row[14] = int64(c.Replies), int64(c.Reopens), c.BookingRef, strings.Join(c.Tags, " ")
	row[15] = int64(1) // version 1; no mark: evaluated
	row[16], row[17], row[18] = int64(b2i(fc.Verdict.Repeat)), refs(fc.Verdict.Previous), string(fcr)
	row[19], row[20] = string(fc.Verdict.Stage), int64(b2i(fc.Verdict.FollowedByOrder))
	row[21], row[22] = nullable(fc.Prev), nullable(fc.Prev2)
}

// bookingValues fills row in the order of bookingColumns.
func bookingValues(b *recontact.Booking, row []any) {
	key := b.CustomerKey
	if key == "" {
		key = recontact.NormaliseEmail(b.CustomerEmail)
	}
	updated := b.UpdatedAt
	if updated.IsZero() {
		updated = b.CreatedAt
	}
	row[0], row[1], row[2], row[3] = b.ID, b.Partner, key, ms(b.CreatedAt)
	row[4], row[5], row[6], row[7] = b.CheckIn, b.CheckOut, b.Status, ms(updated)
}

func nullable(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}

type dayPartner struct{ day, partner string }

// bookingDays is the booking_days rollup of bookings: the non-cancelled ones
// per UTC day of creation and partner, as upsertBooking keeps it.
func bookingDays(bookings []recontact.Booking) map[dayPartner]int64 {
	out := map[dayPartner]int64{}
	for i := range bookings {
		if b := &bookings[i]; !b.Cancelled() {
			out[dayPartner{day(b.CreatedAt), b.Partner}]++
		}
	}
	return out
}

// addBookingDays adds counts to booking_days, many rows per statement.
func (s *Store) addBookingDays(ctx context.Context, days map[dayPartner]int64) error {
	keys := slices.SortedFunc(maps.Keys(days), func(a, b dayPartner) int {
		return strings.Compare(a.day+"\x00"+a.partner, b.day+"\x00"+b.partner)
	})
	const perStmt = 1000
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		for len(keys) > 0 {
			n := min(perStmt, len(keys))
			args := make([]any, 0, 3*n)
			for _, k := range keys[:n] {
				args = append(args, k.day, k.partner, days[k])
			}
			q := `INSERT INTO booking_days (day, partner, bookings) VALUES ` + placeholders(n, 3) + `
ON CONFLICT (day, partner) DO UPDATE SET bookings = booking_days.bookings + excluded.bookings`
			if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
				return err
			}
			keys = keys[n:]
		}
		return nil
	})
}

// placeholders is "(?, ?), (?, ?)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
}

// bulkInsert writes n rows into table, fill putting row i's values (in the
// order of cols) into its argument. The dialects differ enough to get one
// function each.
func (s *Store) bulkInsert(ctx context.Context, table string, cols []string, n int, fill func(i int, row []any)) error {
	if n == 0 {
		return nil
	}
	if s.dialect == Postgres {
		return s.copyIn(ctx, table, cols, n, fill)
	}
	return s.insertBatches(ctx, table, cols, n, fill)
}

// copyIn streams the rows through COPY FROM STDIN in one transaction: the
// fastest way into PostgreSQL, and with lib/pq it needs a transaction anyway.
func (s *Store) copyIn(ctx context.Context, table string, cols []string, n int, fill func(i int, row []any)) error {
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		stmt, err := tx.PrepareContext(ctx, fmt.Sprintf("COPY %s (%s) FROM STDIN", table, strings.Join(cols, ", ")))
		if err != nil {
			return err
		}
		defer stmt.Close()
		row := make([]any, len(cols))
		for i := range n {
			fill(i, row)
			if _, err := stmt.ExecContext(ctx, row...); err != nil {
				return err
			}
		}
		_, err = stmt.ExecContext(ctx) // flush; errors in buffered rows surface here
		return err
	})
}

// SQLite binds at most 32766 variables per statement; 250 rows of the widest
// table stay well below it and make statement overhead negligible.
const (
	sqliteRowsPerStmt = 250
	sqliteRowsPerTx   = 50_000
)

// insertBatches writes multi-row INSERTs, sqliteRowsPerTx rows per
// transaction so the WAL stays bounded, on one connection whose page cache is
// enlarged for the load (index pages of a growing table) and restored after.
func (s *Store) insertBatches(ctx context.Context, table string, cols []string, n int, fill func(i int, row []any)) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return classify(err)
	}
	defer conn.Close()
	var cacheSize int64
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cacheSize); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil { // 256 MiB
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, cacheSize))

	insert := func(rows int) string {
		return fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", table, strings.Join(cols, ", "), placeholders(rows, len(cols)))
	}
	args := make([]any, sqliteRowsPerStmt*len(cols))
	for start := 0; start < n; start += sqliteRowsPerTx {
		end := min(start+sqliteRowsPerTx, n)
		err := func() error {
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback() // no-op after Commit
			full, err := tx.PrepareContext(ctx, insert(sqliteRowsPerStmt))
			if err != nil {
				return err
			}
			defer full.Close()
			for i := start; i < end; i += sqliteRowsPerStmt {
				rows := min(sqliteRowsPerStmt, end-i)
				for r := range rows {
					fill(i+r, args[r*len(cols):(r+1)*len(cols)])
				}
				stmt := full
				if rows < sqliteRowsPerStmt {
					if stmt, err = tx.PrepareContext(ctx, insert(rows)); err != nil {
						return err
					}
					defer stmt.Close()
				}
				if _, err := stmt.ExecContext(ctx, args[:rows*len(cols)]...); err != nil {
					return err
				}
			}
			return tx.Commit()
		}()
		if err != nil {
			return classify(err)
		}
	}
	return nil
}

// analyze refreshes planner statistics after a bulk load. On PostgreSQL,
// VACUUM also sets the visibility map, which index-only scans need and which
// autovacuum would set on a live table soon after inserts. On SQLite the WAL
// is folded back into the database file.
func (s *Store) analyze(ctx context.Context) error {
	stmts := []string{`ANALYZE`, `PRAGMA wal_checkpoint(TRUNCATE)`}
	if s.dialect == Postgres {
		stmts = []string{`VACUUM (ANALYZE) contacts, bookings, booking_days, contact_days, contact_totals, booking_totals, customer_links, partner_links`}
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return classify(err)
		}
	}
	return nil
}
