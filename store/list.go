package store

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/recontact/recontact"
)

// Contact sets a listing can be narrowed to: the contacts behind each rate's
// numerator or denominator, so a dashboard figure can show its tickets.
const (
	SetAll             = ""                 // every contact created in the period
	SetResolved        = "resolved"         // the FCR rate's denominator
	SetFCR             = "fcr"              // first-contact resolved
	SetNotFCR          = "not_fcr"          // resolved, but not on first contact
	SetRepeat          = "repeat"           // flagged repeat contact
	SetRepeatCustomers = "repeat_customers" // all contacts of customers with 2+ in the period (and partner)
	SetFollowed        = "followed"         // followed by an order
)

// ValidSet reports whether s is one of the Set* values.
func ValidSet(s string) bool {
	switch s {
	case SetAll, SetResolved, SetFCR, SetNotFCR, SetRepeat, SetRepeatCustomers, SetFollowed:
		return true
	}
	return false
}

// ContactFilter selects contacts created in [From, To). A nil Partner or
// Stage means any; a pointer to "" means none (no partner, no stage).
type ContactFilter struct {
	From, To time.Time
	Partner  *string
	Stage    *string
	Channel  string // "" = any
	Tag      string // "" = any
	Set      string // a Set* value
	// Offset and Limit page the listing; Limit 0 means every row.
	Offset, Limit int
}

// ListedContact is one row of a contact listing: what a lead needs to find
// the ticket, never the full customer e-mail unless the caller masks it.
type ListedContact struct {
	Source      recontact.Source
	TicketID    string
	CustomerKey string
	Partner     string
	Channel     string
	Status      recontact.Status
	CreatedAt   time.Time
	ResolvedAt  time.Time // zero while unresolved
	Tags        []string
	Repeat      bool
	FCR         string
	Stage       string
	Followed    bool
}

type listedRow struct {
	Source      string        `db:"source"`
	TicketID    string        `db:"ticket_id"`
	CustomerKey string        `db:"customer_key"`
	Partner     string        `db:"partner"`
	Channel     string        `db:"channel"`
	Status      string        `db:"status"`
	CreatedMS   int64         `db:"created_ms"`
	ResolvedMS  sql.NullInt64 `db:"resolved_ms"`
	Tags        string        `db:"tags"`
	Repeat      int           `db:"repeat_contact"`
	FCR         string        `db:"fcr"`
	Stage       string        `db:"stage"`
	Followed    int           `db:"followed"`
}

const listedColumns = `source, ticket_id, customer_key, partner, channel, status, created_ms, resolved_ms,
	tags, repeat_contact, fcr, stage, followed`

// where builds the filter's condition and arguments. It only ever appends
// placeholders, never values, so filter strings cannot inject SQL.
func (f *ContactFilter) where() (string, []any, error) {
	if !ValidSet(f.Set) {
		return "", nil, recontact.Errorf(recontact.EInvalid, "unknown contact set "+f.Set)
	}
	if !f.From.Before(f.To) {
		return "", nil, recontact.Errorf(recontact.EInvalid, "from must be before to")
	}
	base := "created_ms >= ? AND created_ms < ?"
	args := []any{ms(f.From), ms(f.To)}
	if f.Partner != nil {
		base += " AND partner = ?"
		args = append(args, *f.Partner)
	}
	cond, condArgs := base, slices.Clone(args)
	if f.Stage != nil {
		cond += " AND stage = ?"
		condArgs = append(condArgs, *f.Stage)
	}
	if f.Channel != "" {
		cond += " AND channel = ?"
		condArgs = append(condArgs, f.Channel)
	}
	if f.Tag != "" {
		// tags is space-separated; padding it matches whole tags only, and the
		// escape keeps "_" (common in tags) from being a wildcard.
		cond += ` AND (' ' || tags || ' ') LIKE ? ESCAPE '\'`
		condArgs = append(condArgs, "% "+likeEscaper.Replace(f.Tag)+" %")
	}
	switch f.Set {
	case SetResolved:
		cond += " AND resolved_ms IS NOT NULL"
	case SetFCR:
		cond += " AND fcr = 'fcr'"
	case SetNotFCR:
		cond += " AND resolved_ms IS NOT NULL AND fcr <> 'fcr'"
	case SetRepeat:
		cond += " AND repeat_contact = 1"
	case SetFollowed:
		cond += " AND followed = 1"
	case SetRepeatCustomers:
		// The repeat contact rate's customers: 2+ contacts in the same period
		// and partner, as Period counts them.
		cond += " AND customer_key IN (SELECT customer_key FROM contacts WHERE " + base +
			" GROUP BY customer_key HAVING COUNT(*) >= 2)"
		condArgs = append(condArgs, args...)
	}
	return cond, condArgs, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// EachContact streams the filtered contacts, oldest first, to fn one row at a
// time: an export of a year never sits in memory. An error from fn stops the
// scan and is returned.
func (s *Store) EachContact(ctx context.Context, f ContactFilter, fn func(*ListedContact) error) error {
	cond, args, err := f.where()
	if err != nil {
		return err
	}
	q := `SELECT ` + listedColumns + ` FROM contacts WHERE ` + cond + ` ORDER BY created_ms, id`
	if f.Limit > 0 {
		q += " LIMIT ? OFFSET ?"
		args = append(args, f.Limit, f.Offset)
	}
	rows, err := s.db.QueryxContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return classify(err)
	}
	defer rows.Close()
	var r listedRow
	for rows.Next() {
		if err := rows.StructScan(&r); err != nil {
			return classify(err)
		}
		c := ListedContact{
			Source: recontact.Source(r.Source), TicketID: r.TicketID, CustomerKey: r.CustomerKey,
			Partner: r.Partner, Channel: r.Channel, Status: recontact.Status(r.Status),
			CreatedAt: fromMS(r.CreatedMS), ResolvedAt: fromNullMS(r.ResolvedMS), Tags: fields(r.Tags),
			Repeat: r.Repeat == 1, FCR: r.FCR, Stage: r.Stage, Followed: r.Followed == 1,
		}
		if err := fn(&c); err != nil {
			return err
		}
	}
	return classify(rows.Err())
}

// CountContacts counts what EachContact would list without paging.
func (s *Store) CountContacts(ctx context.Context, f ContactFilter) (int, error) {
	cond, args, err := f.where()
	if err != nil {
		return 0, err
	}
	var n int
	err = s.db.GetContext(ctx, &n, s.db.Rebind(`SELECT COUNT(*) FROM contacts WHERE `+cond), args...)
	return n, classify(err)
}

// DriverCount is how many repeat contacts carry one channel, stage or tag.
type DriverCount struct {
	Key string // "" = no stage
	N   int
}

// RepeatDrivers says what the period's repeat contacts have in common.
type RepeatDrivers struct {
	Repeats  int // repeat contacts in the period
	Channels []DriverCount
	Stages   []DriverCount
	Tags     []DriverCount // the most frequent, at most maxDriverTags
}

const maxDriverTags = 10

// Drivers counts the channels, stages and ticket tags of the repeat contacts
// created in [from, to), optionally of one partner, most frequent first.
func (s *Store) Drivers(ctx context.Context, from, to time.Time, partner *string) (RepeatDrivers, error) {
	f := ContactFilter{From: from, To: to, Partner: partner, Set: SetRepeat}
	cond, args, err := f.where()
	if err != nil {
		return RepeatDrivers{}, err
	}
	var d RepeatDrivers
	for _, col := range []string{"channel", "stage"} {
		var rows []struct {
			Key string `db:"k"`
			N   int    `db:"n"`
		}
		err := s.db.SelectContext(ctx, &rows, s.db.Rebind(`SELECT `+col+` AS k, COUNT(*) AS n FROM contacts WHERE `+cond+` GROUP BY `+col), args...)
		if err != nil {
			return d, classify(err)
		}
		counts := make([]DriverCount, 0, len(rows))
		for _, r := range rows {
			counts = append(counts, DriverCount{Key: r.Key, N: r.N})
			if col == "channel" {
				d.Repeats += r.N
			}
		}
		sortDrivers(counts)
		if col == "channel" {
			d.Channels = counts
		} else {
			d.Stages = counts
		}
	}
	// Tags are a space-separated column, so they are counted here rather than
	// in SQL, row by row. Tags recontact wrote itself (repeat_contact, fcr, …)
	// would only restate the flag, so they are left out.
	tags := map[string]int{}
	rows, err := s.db.QueryxContext(ctx, s.db.Rebind(`SELECT tags, tags_written FROM contacts WHERE `+cond+` AND tags <> ''`), args...)
	if err != nil {
		return d, classify(err)
	}
	defer rows.Close()
	for rows.Next() {
		var t, written string
		if err := rows.Scan(&t, &written); err != nil {
			return d, classify(err)
		}
		own := strings.Fields(written)
		for _, tag := range strings.Fields(t) {
			if !slices.Contains(own, tag) {
				tags[tag]++
			}
		}
	}
	if err := rows.Err(); err != nil {
		return d, classify(err)
	}
	for k, n := range tags {
		d.Tags = append(d.Tags, DriverCount{Key: k, N: n})
	}
	sortDrivers(d.Tags)
	if len(d.Tags) > maxDriverTags {
		d.Tags = d.Tags[:maxDriverTags]
	}
	return d, nil
}

func sortDrivers(c []DriverCount) {
	slices.SortFunc(c, func(a, b DriverCount) int {
		return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(a.Key, b.Key))
	})
}
