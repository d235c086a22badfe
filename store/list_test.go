package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// listFixture: alice twice (partner-a), bob twice (partner-b, then none),
// carol once, dave outside the period.
func listFixture(t *testing.T, s *store.Store) {
	t.Helper()
	day := func(n int) time.Time { return t0.AddDate(0, 0, n) }
	fc := func(src recontact.Source, id, email, partner, channel string, created time.Time, tags ...string) store.FixtureContact {
		return store.FixtureContact{Contact: recontact.Contact{Source: src, TicketID: id, CustomerEmail: email,
			Partner: partner, Channel: channel, Status: recontact.StatusOpen, CreatedAt: created, Tags: tags}}
	}
	c1 := fc(recontact.SourceZendesk, "1", "alice@example.com", "partner-a", "email", day(0), "vip", "billing")
	c1.Contact.Status, c1.Contact.ResolvedAt, c1.Verdict.FCR = recontact.StatusSolved, day(0).Add(time.Hour), metrics.FCRYes
	c2 := fc(recontact.SourceZendesk, "2", "alice@example.com", "partner-a", "chat", day(1), "billing", "refund", "repeat_contact")
	c2.Contact.Status, c2.Contact.ResolvedAt, c2.Verdict.FCR = recontact.StatusSolved, day(2), metrics.FCRNo
	c2.Verdict.Repeat, c2.Verdict.Stage = true, metrics.StageInDestination
	c3 := fc(recontact.SourceFreshdesk, "3", "bob@example.com", "partner-b", "phone", day(2), "wifi")
	c3.Verdict.Stage, c3.Verdict.FollowedByOrder = metrics.StagePreCheckIn, true
	c4 := fc(recontact.SourceZendesk, "4", "bob@example.com", "", "email", day(3), "billing_issue")
	c4.Verdict.Repeat = true
	c5 := fc(recontact.SourceZendesk, "5", "carol@example.com", "partner-a", "email", day(4), "billingXissue")
	c6 := fc(recontact.SourceZendesk, "6", "dave@example.com", "partner-a", "email", day(40))
	ctx := context.Background()
	if err := s.LoadFixture(ctx, []store.FixtureContact{c1, c2, c3, c4, c5, c6}, nil); err != nil {
		t.Fatal(err)
	}
	// recontact's own tag on ticket 2 must not count as a driver.
	if err := s.MarkWritten(ctx, recontact.SourceZendesk, "2", []string{"repeat_contact"}, false, "done", ""); err != nil {
		t.Fatal(err)
	}
}

func ptr(s string) *string { return &s }

func TestContactListing(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		listFixture(t, s)
		ctx := context.Background()
		period := store.ContactFilter{From: t0, To: t0.AddDate(0, 0, 30)}
		for _, tc := range []struct {
			name string
			edit func(f *store.ContactFilter)
			want []string
		}{
			{"all", func(*store.ContactFilter) {}, []string{"1", "2", "3", "4", "5"}},
			{"partner", func(f *store.ContactFilter) { f.Partner = ptr("partner-a") }, []string{"1", "2", "5"}},
			{"no partner", func(f *store.ContactFilter) { f.Partner = ptr("") }, []string{"4"}},
			{"resolved", func(f *store.ContactFilter) { f.Set = store.SetResolved }, []string{"1", "2"}},
			{"fcr", func(f *store.ContactFilter) { f.Set = store.SetFCR }, []string{"1"}},
			{"not fcr", func(f *store.ContactFilter) { f.Set = store.SetNotFCR }, []string{"2"}},
			{"repeat", func(f *store.ContactFilter) { f.Set = store.SetRepeat }, []string{"2", "4"}},
			{"followed", func(f *store.ContactFilter) { f.Set = store.SetFollowed }, []string{"3"}},
			{"repeat customers", func(f *store.ContactFilter) { f.Set = store.SetRepeatCustomers }, []string{"1", "2", "3", "4"}},
			// bob's second contact has no partner: within partner-b he came once.
			{"repeat customers of partner-b", func(f *store.ContactFilter) {
				f.Set, f.Partner = store.SetRepeatCustomers, ptr("partner-b")
			}, nil},
			{"repeat customers of partner-a", func(f *store.ContactFilter) {
				f.Set, f.Partner = store.SetRepeatCustomers, ptr("partner-a")
			}, []string{"1", "2"}},
			{"no stage", func(f *store.ContactFilter) { f.Stage = ptr("") }, []string{"1", "4", "5"}},
			{"stage", func(f *store.ContactFilter) { f.Stage = ptr("pre-check-in") }, []string{"3"}},
			{"channel", func(f *store.ContactFilter) { f.Channel = "email" }, []string{"1", "4", "5"}},
			{"tag", func(f *store.ContactFilter) { f.Tag = "billing" }, []string{"1", "2"}},
			{"tag with underscore is not a wildcard", func(f *store.ContactFilter) { f.Tag = "billing_issue" }, []string{"4"}},
			{"page", func(f *store.ContactFilter) { f.Limit, f.Offset = 2, 1 }, []string{"2", "3"}},
		} {
			f := period
			tc.edit(&f)
			var got []string
			err := s.EachContact(ctx, f, func(c *store.ListedContact) error {
				got = append(got, c.TicketID)
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
			if f.Limit == 0 {
				n, err := s.CountContacts(ctx, f)
				if err != nil || n != len(tc.want) {
					t.Errorf("%s: count %d, %v; want %d", tc.name, n, err, len(tc.want))
				}
			}
		}

		// A row carries what the drill-down shows.
		var c3 store.ListedContact
		f := period
		f.Set = store.SetFollowed
		_ = s.EachContact(ctx, f, func(c *store.ListedContact) error { c3 = *c; return nil })
		if c3.Source != recontact.SourceFreshdesk || c3.CustomerKey != "bob@example.com" || c3.Partner != "partner-b" ||
			c3.Channel != "phone" || c3.Stage != "pre-check-in" || !c3.Followed || c3.Repeat || !slices.Equal(c3.Tags, []string{"wifi"}) ||
			!c3.CreatedAt.Equal(t0.AddDate(0, 0, 2)) {
			t.Errorf("row %+v", c3)
		}

		// fn's error stops the scan and comes back unchanged.
		stop := errors.New("stop")
		calls := 0
		err := s.EachContact(ctx, period, func(*store.ListedContact) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("stop: %v after %d calls", err, calls)
		}

		for _, bad := range []store.ContactFilter{
			{From: t0, To: t0.AddDate(0, 0, 1), Set: "nonsense"},
			{From: t0, To: t0},
		} {
			err := s.EachContact(ctx, bad, func(*store.ListedContact) error { return nil })
			if recontact.ErrorCode(err) != recontact.EInvalid {
				t.Errorf("%+v: %v, want EInvalid", bad, err)
			}
		}
	})
}

func TestRepeatDrivers(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		listFixture(t, s)
		ctx := context.Background()
		d, err := s.Drivers(ctx, t0, t0.AddDate(0, 0, 30), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := store.RepeatDrivers{
			Repeats:  2,
			Channels: []store.DriverCount{{Key: "chat", N: 1}, {Key: "email", N: 1}},
			Stages:   []store.DriverCount{{Key: "", N: 1}, {Key: "in-destination", N: 1}},
			Tags:     []store.DriverCount{{Key: "billing", N: 1}, {Key: "billing_issue", N: 1}, {Key: "refund", N: 1}},
		}
		if !driversEqual(d, want) {
			t.Errorf("drivers %+v\nwant    %+v", d, want)
		}
		d, err = s.Drivers(ctx, t0, t0.AddDate(0, 0, 30), ptr("partner-a"))
		if err != nil {
			t.Fatal(err)
		}
		if d.Repeats != 1 || len(d.Channels) != 1 || d.Channels[0].Key != "chat" || len(d.Tags) != 2 {
			t.Errorf("partner-a drivers %+v", d)
		}
		d, err = s.Drivers(ctx, t0.AddDate(0, 0, 50), t0.AddDate(0, 0, 60), nil)
		if err != nil || d.Repeats != 0 || len(d.Channels)+len(d.Stages)+len(d.Tags) != 0 {
			t.Errorf("empty period: %+v, %v", d, err)
		}
	})
}

func driversEqual(a, b store.RepeatDrivers) bool {
	return a.Repeats == b.Repeats && slices.Equal(a.Channels, b.Channels) &&
		slices.Equal(a.Stages, b.Stages) && slices.Equal(a.Tags, b.Tags)
}
