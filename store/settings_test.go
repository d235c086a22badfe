package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// TestSettingsChangeReevaluates: reopening a store with other verdict windows
// marks every contact, and evaluation then judges them by the new
// windows; reopening with the same windows, or with only the ratio bands
// changed, marks nothing.
func TestSettingsChangeReevaluates(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		ctx := context.Background()
		week := metrics.DefaultSettings()
		twoDays := week
		twoDays.RepeatWindow, twoDays.FCRWindow, twoDays.OrderWindow = 48*time.Hour, 48*time.Hour, 48*time.Hour
		open := func(st metrics.Settings) *store.Store {
			t.Helper()
			s, err := store.Open(ctx, url, store.Options{Settings: st})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
		dirty := func(s *store.Store) int {
			t.Helper()
			var n int
			if err := s.DB().GetContext(ctx, &n, `SELECT COUNT(DISTINCT contact_id) FROM marks`); err != nil {
				t.Fatal(err)
			}
			return n
		}

		// 1: solved one-touch; 2: three days later, then a booking three
		// days after that. Inside every 7-day window, outside every 2-day one.
		s := open(week)
		first := contact("1", "alice@example.com", t0, recontact.StatusSolved)
		first.ResolvedAt, first.UpdatedAt, first.Replies = t0.Add(time.Hour), t0.Add(time.Hour), 1
		second := contact("2", "alice@example.com", t0.Add(72*time.Hour), recontact.StatusOpen)
		for i, c := range []*recontact.Contact{first, second} {
			d := delivery("k"+c.TicketID, c)
			d.Activity, d.ReportsActivity = recontact.Activity{Replies: c.Replies}, true
			if i == 0 {
				d.ReceivedAt = t0
			}
			mustIngest(t, s, d)
		}
		if err := s.UpsertBooking(ctx, &recontact.Booking{ID: "b1", Partner: "p1", CustomerEmail: "alice@example.com",
			CreatedAt: t0.Add(144 * time.Hour), Status: "confirmed"}); err != nil {
			t.Fatal(err)
		}
		drain(t, s)
		check := func(s *store.Store, repeat bool, fcr metrics.FCR, followed bool) {
			t.Helper()
			c1, c2 := mustContact(t, s, "1"), mustContact(t, s, "2")
			if !c2.Evaluated || c2.Repeat != repeat || (len(c2.Previous) == 1) != repeat {
				t.Errorf("contact 2: evaluated %v, repeat %v, previous %v; want repeat %v", c2.Evaluated, c2.Repeat, c2.Previous, repeat)
			}
			if c1.FCR != string(fcr) {
				t.Errorf("contact 1: fcr %q, want %q", c1.FCR, fcr)
			}
			if c2.FollowedByOrder != followed {
				t.Errorf("contact 2: followed by order %v, want %v", c2.FollowedByOrder, followed)
			}
		}
		check(s, true, metrics.FCRNo, true)
		s.Close()

		s = open(twoDays)
		if n := dirty(s); n != 2 {
			t.Fatalf("after a window change %d contacts are dirty; want all 2", n)
		}
		drain(t, s)
		check(s, false, metrics.FCRYes, false)
		s.Close()

		bands := twoDays
		bands.RatioLow, bands.RatioHigh = 0.01, 0.5
		for _, st := range []metrics.Settings{twoDays, bands} {
			s = open(st)
			if n := dirty(s); n != 0 {
				t.Fatalf("reopened with the same windows (%+v): %d contacts dirty; want 0", st, n)
			}
			s.Close()
		}

		s = open(week)
		drain(t, s)
		check(s, true, metrics.FCRNo, true)
	})
}
