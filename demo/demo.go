// Package demo seeds a store with a realistic, made-up data set, so a
// newcomer sees a populated dashboard a minute after cloning: about 90 days
// of bookings and the Zendesk and Freshdesk tickets they cause, for a dozen
// partners whose contact ratios range from low to high.
//
// Everything goes through the store's public ingest path (as webhooks
// would) and is generated from a fixed seed relative to the day it runs, with
// fixed delivery keys: seeding again changes nothing.
package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
)

// Partner is one demo partner: its share of the bookings and the chance that
// a booking leads to a ticket. Follow-up tickets and cancellations (twice
// the chance) make the contact ratio about 1.45 times ContactRate.
type Partner struct {
	Key          string
	BookingShare float64
	ContactRate  float64
}

// Partners are the demo's partners: with the default bands, two high (above
// 0.15 contacts per booking), two low (below 0.05), the rest moderate.
var Partners = []Partner{
	{"alpine-lodges", 0.12, 0.062},
	{"riviera-stays", 0.14, 0.048},
	{"city-loft-collection", 0.11, 0.075},
	{"harbour-view-hotels", 0.09, 0.041},
	{"desert-rose-resorts", 0.05, 0.19},
	{"northern-cabins", 0.06, 0.02},
	{"island-hopper", 0.08, 0.088},
	{"grand-central-inns", 0.10, 0.055},
	{"vineyard-retreats", 0.04, 0.024},
	{"old-town-apartments", 0.07, 0.145},
	{"lakeside-camping", 0.06, 0.068},
	{"skyline-suites", 0.08, 0.048},
}

// Options size the data set.
type Options struct {
	Days     int     // history length; default 90
	Bookings int     // bookings over the whole history; default 30000
	Workers  int     // concurrent ingests (group commit batches them); default 64
	Seed     uint64  // default 1
	Scale    float64 // multiplies Bookings (tests); default 1
}

// Stats says what seeding did.
type Stats struct {
	Bookings, Contacts int // in the data set
	Duplicates         int // deliveries already stored (a re-run)
}

var (
	firstNames = []string{"anna", "ben", "chloe", "david", "emma", "felix", "grace", "hugo", "ines", "jonas", "kira", "leo",
		"mia", "noah", "olivia", "paul", "quinn", "rosa", "sam", "tara", "umar", "vera", "will", "yara", "zoe"}
	lastNames = []string{"smith", "muller", "rossi", "garcia", "dubois", "nowak", "jensen", "silva", "kowalski", "berg",
		"novak", "costa", "weber", "martin", "lopez", "fischer"}
	domains  = []string{"example.com", "example.org", "example.net"}
	topics   = []string{"billing", "cancellation", "check_in", "wifi", "refund", "late_checkout", "parking", "noise", "room_change", "breakfast"}
	zdVia    = []string{"email", "email", "email", "chat", "chat", "voice", "web_form", "native_messaging"}
	fdSource = []string{"email", "email", "portal", "phone", "chat"}
)

// Seed generates the data set for the 90 days up to now and ingests it.
func Seed(ctx context.Context, s *store.Store, now time.Time, opt Options) (Stats, error) {
	ds := Generate(now, opt)
	var st Stats
	for _, d := range ds {
		switch {
		case d.Booking != nil:
			st.Bookings++
		case d.Contact != nil:
			st.Contacts++
		}
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = 64
	}
	// Bookings first, so evaluation finds each contact's stay.
	var dups atomic.Int64
	for _, part := range [][]*recontact.Delivery{ds[:st.Bookings], ds[st.Bookings:]} {
		if err := ingestAll(ctx, s, part, workers, &dups); err != nil {
			return st, err
		}
	}
	st.Duplicates = int(dups.Load())
	return st, dropLookups(ctx, s, ds)
}

// dropLookups removes the API look-ups that resolving a ticket queues: the
// demo's tickets exist in no helpdesk, and with real credentials configured
// a look-up would fetch some real ticket with the same id. Other jobs are put
// back as they were due.
func dropLookups(ctx context.Context, s *store.Store, ds []*recontact.Delivery) error {
	ours := map[string]bool{}
	for _, d := range ds {
		if d.Contact != nil {
			ours[d.Contact.TicketID] = true
		}
	}
	kinds := []string{recontact.JobZendeskMetrics, recontact.JobFreshdeskTicket}
	var keep []store.QueuedJob
	defer func() {
		for i := range keep {
			// A put-back cannot fail the seed: its lease expires anyway.
			_ = s.Retry(ctx, &keep[i], keep[i].RunAt(), errors.New("put back by recontact demo"), 0)
		}
	}()
	for {
		jobs, err := s.Claim(ctx, kinds, 500, time.Minute)
		if err != nil || len(jobs) == 0 {
			return err
		}
		for _, j := range jobs {
			if !ours[j.Key] {
				keep = append(keep, j)
				continue
			}
			if err := s.Complete(ctx, j.ID); err != nil {
				return err
			}
		}
	}
}

// ingestAll ingests concurrently: with the store's group commit, concurrent
// deliveries share a transaction and its fsync, which makes seeding take
// seconds rather than minutes.
func ingestAll(ctx context.Context, s *store.Store, ds []*recontact.Delivery, workers int, dups *atomic.Int64) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan *recontact.Delivery)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for d := range next {
				dup, err := s.Ingest(ctx, d)
				if err != nil {
					cancel(fmt.Errorf("ingest %s %s: %w", d.Source, d.Key, err))
					return
				}
				if dup {
					dups.Add(1)
				}
			}
		})
	}
feed:
	for _, d := range ds {
		select {
		case next <- d:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	// Acknowledged is not yet applied: wait for the applier, so what follows
	// (evaluation, the summary) sees every contact.
	return s.Settle(ctx)
}

// Generate builds the deliveries: all bookings first, then the contacts.
// The same now (to the day), options and seed give the same deliveries.
func Generate(now time.Time, opt Options) []*recontact.Delivery {
	if opt.Days <= 0 {
		opt.Days = 90
	}
	if opt.Bookings <= 0 {
		opt.Bookings = 30000
	}
	if opt.Scale <= 0 {
		opt.Scale = 1
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5eed))
	end := now.UTC().Truncate(24 * time.Hour)
	start := end.AddDate(0, 0, -opt.Days)
	span := end.Sub(start)
	total := int(float64(opt.Bookings) * opt.Scale)

	// Returning guests book again and contact again: a pool a third the size
	// of the bookings makes some customers appear several times.
	customers := max(total/3, 1)
	email := func(i int) string {
		return fmt.Sprintf("%s.%s%d@%s", firstNames[i%len(firstNames)], lastNames[(i/len(firstNames))%len(lastNames)], i, domains[i%len(domains)])
	}
	pick := func() Partner {
		x := rng.Float64()
		for _, p := range Partners {
			if x -= p.BookingShare; x < 0 {
				return p
			}
		}
		return Partners[len(Partners)-1]
	}

	var bookings, contacts []*recontact.Delivery
	ticket := 0
	for i := range total {
		p := pick()
		cust := email(rng.IntN(customers))
		made := start.Add(time.Duration(rng.Int64N(int64(span))))
		checkIn := made.Add(time.Duration(2+rng.IntN(60)) * 24 * time.Hour).Truncate(24 * time.Hour)
		checkOut := checkIn.Add(time.Duration(1+rng.IntN(7)) * 24 * time.Hour)
		status := "confirmed"
		cancelled := rng.Float64() < 0.07
		updated := made
		if cancelled {
			status = recontact.BookingCancelled
			updated = made.Add(time.Duration(1+rng.IntN(72)) * time.Hour)
			if updated.After(now) {
				updated, status = made, "confirmed"
			}
		}
		id := fmt.Sprintf("demo-bk-%05d", i)
		bookings = append(bookings, &recontact.Delivery{Source: recontact.SourceBookings, Key: "demo:" + id, ReceivedAt: updated,
			Booking: &recontact.Booking{ID: id, Partner: p.Key, CustomerEmail: cust, CustomerKey: cust, CreatedAt: made,
				CheckIn: checkIn.Format(time.DateOnly), CheckOut: checkOut.Format(time.DateOnly), Status: status, UpdatedAt: updated}})

		// A cancellation itself is a reason to write in.
		rate := p.ContactRate
		if cancelled {
			rate *= 2
		}
		if rng.Float64() >= rate {
			continue
		}
		// When in the stay's life the guest writes: before, during or after.
		var at time.Time
		switch x := rng.Float64(); {
		case x < 0.5:
			at = made.Add(time.Duration(rng.Int64N(int64(checkIn.Sub(made)))))
		case x < 0.8:
			at = checkIn.Add(time.Duration(rng.Int64N(int64(checkOut.Sub(checkIn)))))
		default:
			at = checkOut.Add(time.Duration(rng.Int64N(int64(5 * 24 * time.Hour))))
		}
		ref := ""
		if rng.Float64() < 0.4 {
			ref = id
		}
		// Some guests write again about the same thing, hours or days later.
		for n := 0; n < 3 && at.Before(now); n++ {
			ticket++
			contacts = append(contacts, contact(rng, ticket, cust, p.Key, ref, at, now))
			if rng.Float64() >= 0.22 {
				break
			}
			at = at.Add(time.Duration(2+rng.IntN(96)) * time.Hour)
		}
	}
	return append(bookings, contacts...)
}

// contact makes one ticket's final snapshot, with its replies and reopens
// reported as activity (as Zendesk event webhooks do).
func contact(rng *rand.Rand, n int, cust, partner, ref string, at, now time.Time) *recontact.Delivery {
	src, channel := recontact.SourceZendesk, zdVia[rng.IntN(len(zdVia))]
	if rng.Float64() < 0.4 {
		src, channel = recontact.SourceFreshdesk, fdSource[rng.IntN(len(fdSource))]
	}
	id := fmt.Sprint(40000 + n)
	c := &recontact.Contact{Source: src, TicketID: id, CustomerEmail: cust, Partner: partner, Channel: channel,
		Status: recontact.StatusOpen, CreatedAt: at, UpdatedAt: at, BookingRef: ref,
		Tags: []string{topics[rng.IntN(len(topics))]}}
	act := recontact.Activity{Replies: 1}
	switch x := rng.Float64(); {
	case x < 0.25:
		act.Replies = 2
	case x < 0.35:
		act.Replies = 3 + rng.IntN(3)
	}
	if rng.Float64() < 0.08 {
		act.Reopens = 1
	}
	// Most tickets are solved within two days; recent ones may still be open.
	solved := at.Add(time.Duration(15+rng.IntN(48*60)) * time.Minute)
	if solved.Before(now) && rng.Float64() < 0.93 {
		c.Status, c.ResolvedAt, c.UpdatedAt = recontact.StatusSolved, solved, solved
	}
	return &recontact.Delivery{Source: src, Key: "demo:" + string(src) + ":" + id, ReceivedAt: c.UpdatedAt,
		Contact: c, Activity: act, ReportsActivity: true}
}
