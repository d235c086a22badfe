package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// TestRollupsFollowChanges reads day-aligned periods (the rollup path) after
// every round of changes, so each round refreshes only the days its changes
// marked: new contacts out of order, contacts moved to an earlier day, to
// another partner or (once their requester's e-mail is known) to another
// customer, and resolutions. Each answer must
// equal metrics.Summarize over the whole history evaluated from scratch.
func TestRollupsFollowChanges(t *testing.T) { rollupsFollowChanges(t) }

// TestRollupsFollowChangesLongHistories runs the same with the evaluation
// reading at most two contacts of a customer whole, so most customers take
// the span-and-neighbours reads instead.
func TestRollupsFollowChangesLongHistories(t *testing.T) {
	store.LimitHistory(t, 2)
	rollupsFollowChanges(t)
}

func rollupsFollowChanges(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		r := rand.New(rand.NewPCG(7, 7))
		start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
		partners := []string{"", "p1", "p2", "p3"}
		email := func() string { return fmt.Sprintf("c%d@example.com", r.IntN(25)) }
		var contacts []*recontact.Contact
		updated := start.AddDate(0, 3, 0)
		queries := []store.PeriodQuery{
			{From: start, To: start.AddDate(0, 0, 40)},
			{From: start.AddDate(0, 0, 5), To: start.AddDate(0, 0, 25), GroupBy: metrics.GroupPartner},
			{From: start, To: start.AddDate(0, 2, 0), GroupBy: metrics.GroupWeek},
			{From: start.AddDate(0, 0, 3), To: start.AddDate(0, 0, 33), Partner: "p1", GroupBy: metrics.GroupDay},
		}
		for round := range 6 {
			for range 50 {
				updated = updated.Add(time.Minute)
				var c *recontact.Contact
				if len(contacts) < 20 || r.IntN(3) == 0 {
					created := start.Add(time.Duration(r.Int64N(int64(40 * 24 * time.Hour))))
					c = contact(fmt.Sprint(len(contacts)), email(), created, recontact.StatusOpen)
					c.Partner = partners[r.IntN(len(partners))]
					if r.IntN(4) == 0 { // known only by requester id until its e-mail is looked up
						c.CustomerEmail, c.RequesterID = "", fmt.Sprint("r", len(contacts))
					}
					contacts = append(contacts, c)
				} else {
					c = contacts[r.IntN(len(contacts))]
					switch r.IntN(4) {
					case 0: // the real creation time, days before the provisional one
						c.CreatedAt = c.CreatedAt.Add(-time.Duration(r.Int64N(int64(4 * 24 * time.Hour))))
					case 1: // to a partner (an empty one means "not known" and changes nothing)
						c.Partner = partners[1+r.IntN(len(partners)-1)]
					case 2: // the requester's e-mail arrives: the contact joins that customer
						if c.CustomerEmail == "" {
							c.CustomerEmail = email()
						}
					case 3:
						if c.ResolvedAt.IsZero() {
							c.Status, c.ResolvedAt = recontact.StatusSolved, c.CreatedAt.Add(time.Hour)
						}
					}
				}
				c.UpdatedAt = updated
				snapshot := *c
				d := delivery(fmt.Sprintf("r%d-%s", round, updated), &snapshot)
				d.ReportsActivity = true
				mustIngest(t, s, d)
			}
			drain(t, s)
			rows, _ := oracleRows(contacts, nil, s.Settings(), s.Now())
			for _, q := range queries {
				gotT, gotG, err := s.Period(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				var rs []metrics.Row
				for _, row := range rows {
					if q.Partner == "" || row.Partner == q.Partner {
						rs = append(rs, row)
					}
				}
				wantT, wantG, err := metrics.Summarize(rs, nil, q.From, q.To, q.GroupBy, s.Settings())
				if err != nil {
					t.Fatal(err)
				}
				if got, want := js(t, gotT), js(t, wantT); got != want {
					t.Fatalf("round %d, %+v totals:\n got %s\nwant %s", round, q, got, want)
				}
				if got, want := js(t, gotG), js(t, wantG); got != want {
					t.Fatalf("round %d, %+v groups:\n got %s\nwant %s", round, q, got, want)
				}
			}
		}
	})
}
