// Package metricsgen generates a deterministic helpdesk history for the
// period-query benchmarks: contacts and bookings over one year, each
// customer's contacts evaluated with metrics.Evaluate (so the stored verdicts
// are real) and given their cohort pointers, ready for store.LoadFixture.
//
// The shape is skewed as live data is: most customers contact support once
// and a few hundreds of times; partner sizes follow a Zipf law and their
// contact ratios vary; contacts cluster around stays, so repeats, FCR misses,
// stages and contacts followed by an order all occur. A fixed seed gives the
// same history on every run and machine.
package metricsgen

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
)

// Config sizes a history. The counts are exact.
type Config struct {
	Seed      uint64
	From      time.Time // start of the history, UTC
	Days      int       // its length
	Contacts  int
	Customers int // customers who contacted support, each at least once
	Partners  int
	Bookings  int // by the contacting customers and by many who never contact support
	Settings  metrics.Settings
}

// Default is the benchmark's size: 1,000,000 contacts from 300,000 customers,
// 500 partners and 5,000,000 bookings over 2025.
func Default() Config {
	return Config{
		Seed:      20250101,
		From:      time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Days:      365,
		Contacts:  1_000_000,
		Customers: 300_000,
		Partners:  500,
		Bookings:  5_000_000,
		Settings:  metrics.DefaultSettings(),
	}
}

// Scaled multiplies the counts by f and keeps the year, the seed and the
// proportions; partners shrink with the square root, so a small history
// still has partners of every size.
func (c Config) Scaled(f float64) Config {
	scale := func(n int, f float64) int { return max(1, int(math.Round(float64(n)*f))) }
	c.Contacts = scale(c.Contacts, f)
	c.Customers = min(scale(c.Customers, f), c.Contacts)
	c.Bookings = scale(c.Bookings, f)
	c.Partners = max(3, scale(c.Partners, math.Sqrt(f)))
	return c
}

// End is the end of the history (exclusive), also the "now" of evaluation.
func (c Config) End() time.Time { return c.From.AddDate(0, 0, c.Days) }

// Customer is one customer's history: contacts oldest first (as evaluation
// orders them), evaluated, and the customer's bookings. Customers who never
// contacted support come last, with bookings only.
type Customer struct {
	Key      string
	Contacts []store.FixtureContact
	Bookings []recontact.Booking
}

// Fixture is a whole history in the shape store.LoadFixture takes, oldest
// first, as live traffic would have written it.
type Fixture struct {
	Config   Config
	Contacts []store.FixtureContact
	Bookings []recontact.Booking
	// Typical is a contact of a typical customer (three contacts, some
	// bookings, mid-year), for timing one evaluation.
	Typical metrics.Ref
	Stats   Stats
}

// Stats describe a history, to check its shape at a glance.
type Stats struct {
	Contacts, Customers, Bookings, Partners int
	OneContactCustomers                     int // customers with exactly one contact
	MaxContactsPerCustomer                  int
	Repeat, Resolved, FCR, Followed, Staged int // contacts with each verdict
	Cancelled                               int // bookings
	LargestPartnerShare                     float64
}

func (s Stats) String() string {
	pct := func(n, of int) float64 { return 100 * float64(n) / float64(max(of, 1)) }
	return fmt.Sprintf("%d contacts, %d customers (%.0f%% with one contact, max %d), %d partners (largest %.1f%% of contacts), "+
		"%d bookings (%.1f%% cancelled); contacts: %.1f%% repeat, %.1f%% resolved, %.1f%% FCR of resolved, %.1f%% followed by an order, %.1f%% with a stage",
		s.Contacts, s.Customers, pct(s.OneContactCustomers, s.Customers), s.MaxContactsPerCustomer, s.Partners,
		100*s.LargestPartnerShare, s.Bookings, pct(s.Cancelled, s.Bookings), pct(s.Repeat, s.Contacts),
		pct(s.Resolved, s.Contacts), pct(s.FCR, s.Resolved), pct(s.Followed, s.Contacts), pct(s.Staged, s.Contacts))
}

// Build generates the whole history in memory (about 1.5 GB at the default
// size) and sorts it by creation time.
func Build(cfg Config) (*Fixture, error) {
	f := &Fixture{Config: cfg}
	f.Contacts = make([]store.FixtureContact, 0, cfg.Contacts)
	f.Bookings = make([]recontact.Booking, 0, cfg.Bookings)
	partnerContacts := map[string]int{}
	i := 0
	err := Generate(cfg, func(c *Customer) error {
		if len(c.Contacts) > 0 {
			f.Stats.Customers++
			if len(c.Contacts) == 1 {
				f.Stats.OneContactCustomers++
			}
			f.Stats.MaxContactsPerCustomer = max(f.Stats.MaxContactsPerCustomer, len(c.Contacts))
			if f.Typical == (metrics.Ref{}) && i >= cfg.Customers/2 && len(c.Contacts) == 3 && len(c.Bookings) >= 2 {
				last := c.Contacts[2].Contact
				f.Typical = metrics.Ref{Source: last.Source, TicketID: last.TicketID}
			}
			i++
		}
		for _, fc := range c.Contacts {
			v := fc.Verdict
			f.Stats.Repeat += b2i(v.Repeat)
			f.Stats.Resolved += b2i(!fc.Contact.ResolvedAt.IsZero())
			f.Stats.FCR += b2i(v.FCR == metrics.FCRYes)
			f.Stats.Followed += b2i(v.FollowedByOrder)
			f.Stats.Staged += b2i(v.Stage != metrics.StageNone)
			partnerContacts[fc.Contact.Partner]++
		}
		for _, b := range c.Bookings {
			f.Stats.Cancelled += b2i(b.Cancelled())
		}
		f.Contacts = append(f.Contacts, c.Contacts...)
		f.Bookings = append(f.Bookings, c.Bookings...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.Stats.Contacts, f.Stats.Bookings, f.Stats.Partners = len(f.Contacts), len(f.Bookings), cfg.Partners
	for p, n := range partnerContacts {
		if p != "" {
			f.Stats.LargestPartnerShare = max(f.Stats.LargestPartnerShare, float64(n)/float64(len(f.Contacts)))
		}
	}
	slices.SortFunc(f.Contacts, func(a, b store.FixtureContact) int {
		return cmp.Or(a.Contact.CreatedAt.Compare(b.Contact.CreatedAt),
			cmp.Compare(a.Contact.Source, b.Contact.Source), cmp.Compare(a.Contact.TicketID, b.Contact.TicketID))
	})
	slices.SortFunc(f.Bookings, func(a, b recontact.Booking) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return f, nil
}

// Generate calls fn once per customer, streaming: first the contacting
// customers (evaluated), then the customers with bookings only. Memory stays
// that of one customer plus a few small tables.
func Generate(cfg Config, fn func(*Customer) error) error {
	if cfg.Contacts < cfg.Customers || cfg.Customers < 1 || cfg.Partners < 1 || cfg.Days < 1 {
		return fmt.Errorf("metricsgen: need contacts >= customers >= 1, partners >= 1, days >= 1; got %+v", cfg)
	}
	g := newGen(cfg)
	counts := g.contactCounts()
	for i, n := range counts {
		c := g.customer(i, int(n))
		if err := fn(c); err != nil {
			return err
		}
	}
	for i := 0; g.bookingsLeft > 0; i++ {
		if err := fn(g.bookerOnly(i)); err != nil {
			return err
		}
	}
	return nil
}

// Partner and time shapes. Contacts cluster in episodes (a trip): a contact
// opens a new episode with this probability, else it follows up the last one
// a few days later.
const (
	maxContactsPerCustomer = 200
	newEpisode             = 0.6
	followUpMeanDays       = 4
	cancelledShare         = 0.08
)

var channels = []struct {
	name   string
	weight float64
}{{"email", 0.45}, {"chat", 0.25}, {"web_form", 0.20}, {"phone", 0.10}}

type gen struct {
	cfg        Config
	r          *rand.Rand
	from, end  time.Time
	partners   []string
	sources    []recontact.Source
	contactCum []float64 // cumulative partner weights for contacts
	bookingCum []float64 // and for bookings
	seasonCum  []float64 // cumulative day weights: busier in summer
	dates      []string  // YYYY-MM-DD of every day a stay may touch, interned

	ticket       map[recontact.Source]int
	booking      int
	bookingsLeft int
}

func newGen(cfg Config) *gen {
	g := &gen{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)),
		from: cfg.From.UTC(), end: cfg.End().UTC(), ticket: map[recontact.Source]int{}, bookingsLeft: cfg.Bookings}
	width := len(strconv.Itoa(cfg.Partners))
	var cw, bw float64
	for i := range cfg.Partners {
		g.partners = append(g.partners, fmt.Sprintf("partner-%0*d", width, i+1))
		// Seven in ten partners use Zendesk.
		g.sources = append(g.sources, []recontact.Source{recontact.SourceZendesk, recontact.SourceFreshdesk}[b2i(i%10 >= 7)])
		size := 1 / math.Pow(float64(i+1), 0.9)
		// Contact ratios differ by partner (roughly low to high bands).
		cw += size * math.Exp(0.5*g.r.NormFloat64())
		bw += size
		g.contactCum = append(g.contactCum, cw)
		g.bookingCum = append(g.bookingCum, bw)
	}
	var sw float64
	for d := range cfg.Days {
		sw += 1 + 0.4*math.Sin(2*math.Pi*(float64(d)-100)/365) // peaks in July
		g.seasonCum = append(g.seasonCum, sw)
	}
	for t := g.from.AddDate(0, 0, -400); t.Before(g.end.AddDate(0, 0, 400)); t = t.AddDate(0, 0, 1) {
		g.dates = append(g.dates, t.Format(time.DateOnly))
	}
	return g
}

// contactCounts gives each customer a number of contacts from a Pareto law
// (alpha 1.4, capped), scaled so they sum to exactly cfg.Contacts.
func (g *gen) contactCounts() []int32 {
	ys := make([]float64, g.cfg.Customers)
	for i := range ys {
		ys[i] = math.Pow(1-g.r.Float64(), -1/1.4) - 1
	}
	counts := make([]int32, len(ys))
	fill := func(s float64) int {
		total := 0
		for i, y := range ys {
			counts[i] = int32(1 + min(maxContactsPerCustomer-1, math.Floor(s*y)))
			total += int(counts[i])
		}
		return total
	}
	lo, hi := 0.0, 1.0
	for fill(hi) < g.cfg.Contacts && hi < 1e9 {
		lo, hi = hi, hi*2
	}
	for range 60 {
		if mid := (lo + hi) / 2; fill(mid) < g.cfg.Contacts {
			lo = mid
		} else {
			hi = mid
		}
	}
	// The last few contacts go to, or come from, customers who already have
	// several, so the share of one-contact customers stays as drawn.
	total := fill(lo)
	for total != g.cfg.Contacts {
		i := g.r.IntN(len(counts))
		switch {
		case total < g.cfg.Contacts && counts[i] >= 2 && counts[i] < maxContactsPerCustomer:
			counts[i]++
			total++
		case total > g.cfg.Contacts && counts[i] >= 3:
			counts[i]--
			total--
		case total < g.cfg.Contacts && g.cfg.Contacts-total > len(counts): // tiny configs
			counts[i]++
			total++
		}
	}
	return counts
}

func pick(cum []float64, r *rand.Rand) int {
	x := r.Float64() * cum[len(cum)-1]
	i, _ := slices.BinarySearch(cum, x)
	return min(i, len(cum)-1)
}

// instant is a time in the history, millisecond precision (as stored), on a
// seasonal day.
func (g *gen) instant() time.Time {
	d := pick(g.seasonCum, g.r)
	return g.from.AddDate(0, 0, d).Add(time.Duration(g.r.Int64N(int64(24 * time.Hour)))).Truncate(time.Millisecond)
}

func (g *gen) clamp(t time.Time) time.Time {
	if t.Before(g.from) || !t.Before(g.end) {
		return g.instant()
	}
	return t.Truncate(time.Millisecond)
}

func (g *gen) date(t time.Time) string {
	return g.dates[int(t.Sub(g.from.AddDate(0, 0, -400))/(24*time.Hour))]
}

func (g *gen) days(d float64) time.Duration { return time.Duration(d * float64(24*time.Hour)) }

// newBooking makes a booking for a stay checking in at checkIn, made at
// created (moved into the history if outside it).
func (g *gen) newBooking(key, partner string, created, checkIn time.Time) recontact.Booking {
	g.booking++
	g.bookingsLeft--
	if created.Before(g.from) && checkIn.After(g.from) {
		// Made before the history began: keep it before its stay.
		until := checkIn
		if until.After(g.end) {
			until = g.end
		}
		created = g.from.Add(time.Duration(g.r.Int64N(int64(until.Sub(g.from)))))
	}
	created = g.clamp(created)
	nights := 1 + min(20, int(g.r.ExpFloat64()*2.5))
	// Ids sort by creation, as most booking systems' do (sequence or
	// time-prefixed): primary-key inserts then append, as in production.
	b := recontact.Booking{ID: fmt.Sprintf("bk%d-%08d", created.UnixMilli(), g.booking), Partner: partner, CustomerKey: key,
		CreatedAt: created, UpdatedAt: created, Status: "confirmed",
		CheckIn: g.date(checkIn), CheckOut: g.date(checkIn.AddDate(0, 0, nights))}
	if g.r.Float64() < cancelledShare {
		b.Status = recontact.BookingCancelled
		b.UpdatedAt = created.Add(g.days(g.r.Float64() * 10)).Truncate(time.Millisecond)
	}
	return b
}

// customer builds customer i's n contacts in episodes, the bookings of their
// stays, and evaluates them.
func (g *gen) customer(i, n int) *Customer {
	c := &Customer{Key: fmt.Sprintf("c%07d@example.com", i)}
	home := pick(g.contactCum, g.r)
	requester := strconv.Itoa(1_000_000 + i)
	var last time.Time
	var ref string // booking of the current episode
	for k := range n {
		var t time.Time
		if k == 0 || g.r.Float64() < newEpisode {
			t = g.instant()
			ref = ""
			// Most trips have a booking of this customer's; some contacts are
			// questions before booking (followed by an order).
			if g.r.Float64() < 0.8 && g.bookingsLeft > 0 {
				var b recontact.Booking
				if g.r.Float64() < 0.1 {
					made := t.Add(g.days(0.05 + g.r.Float64()*6))
					b = g.newBooking(c.Key, g.partners[home], made, made.Add(g.days(1+g.r.Float64()*90)))
				} else {
					in := t.Add(g.days(-7 + g.r.Float64()*28))
					b = g.newBooking(c.Key, g.partners[home], in.Add(-g.days(3+g.r.Float64()*117)), in)
				}
				c.Bookings = append(c.Bookings, b)
				ref = b.ID
			}
		} else {
			t = g.clamp(last.Add(g.days(g.r.ExpFloat64() * followUpMeanDays)))
		}
		last = t
		c.Contacts = append(c.Contacts, g.contact(c.Key, requester, home, t, ref))
	}
	// Some contacting customers book again without contacting support.
	for g.r.Float64() < 0.3 && g.bookingsLeft > 0 {
		made := g.instant()
		c.Bookings = append(c.Bookings, g.newBooking(c.Key, g.partners[home], made, made.Add(g.days(2+g.r.Float64()*60))))
	}
	g.evaluate(c)
	return c
}

func (g *gen) contact(key, requester string, home int, created time.Time, ref string) store.FixtureContact {
	p := home
	switch x := g.r.Float64(); {
	case x < 0.04:
		p = -1 // no partner
	case x < 0.08:
		p = pick(g.contactCum, g.r)
	}
	src, partner, org := recontact.SourceZendesk, "", ""
	if p >= 0 {
		src, partner, org = g.sources[p], g.partners[p], "org-"+strconv.Itoa(p+1)
	}
	g.ticket[src]++
	c := recontact.Contact{Source: src, TicketID: strconv.Itoa(g.ticket[src]), CustomerEmail: key,
		RequesterID: requester, OrgID: org, Partner: partner, CreatedAt: created}
	x := g.r.Float64()
	for _, ch := range channels {
		if c.Channel = ch.name; x < ch.weight {
			break
		}
		x -= ch.weight
	}
	if ref != "" && g.r.Float64() < 0.4 {
		c.BookingRef = ref
	}
	// Resolution: log-normal, median 6 hours; 15% stay open, as do tickets
	// that would be solved after the end of the history.
	resolved := created.Add(time.Duration(float64(6*time.Hour) * math.Exp(1.2*g.r.NormFloat64()))).Truncate(time.Millisecond)
	if g.r.Float64() < 0.85 && resolved.Before(g.end) && resolved.After(created) {
		c.ResolvedAt, c.UpdatedAt = resolved, resolved
		c.Status = []recontact.Status{recontact.StatusSolved, recontact.StatusClosed}[b2i(g.r.Float64() < 0.3)]
		c.Replies = []int{0, 1, 1, 1, 1, 1, 1, 2, 2, 4}[g.r.IntN(10)]
		switch x := g.r.Float64(); {
		case x < 0.015:
			c.Reopens = 2
		case x < 0.075:
			c.Reopens = 1
		}
	} else {
		c.Status = []recontact.Status{recontact.StatusNew, recontact.StatusOpen, recontact.StatusPending, recontact.StatusHold}[g.r.IntN(4)]
		c.Replies = g.r.IntN(3)
		c.UpdatedAt = created
	}
	return store.FixtureContact{Contact: c, CustomerKey: key}
}

// evaluate orders the customer's contacts as evaluation does, judges them
// with metrics.Evaluate against the customer's bookings, and sets the cohort
// pointers (creation times of the previous two contacts).
func (g *gen) evaluate(c *Customer) {
	slices.SortFunc(c.Contacts, func(a, b store.FixtureContact) int {
		return cmp.Or(a.Contact.CreatedAt.Compare(b.Contact.CreatedAt),
			cmp.Compare(a.Contact.Source, b.Contact.Source), cmp.Compare(a.Contact.TicketID, b.Contact.TicketID))
	})
	in := make([]metrics.Contact, len(c.Contacts))
	for i, fc := range c.Contacts {
		x := &fc.Contact
		in[i] = metrics.Contact{Source: x.Source, TicketID: x.TicketID, Partner: x.Partner, Created: x.CreatedAt,
			Resolved: x.ResolvedAt, Replies: x.Replies, Reopens: x.Reopens, BookingRef: x.BookingRef}
	}
	vs := metrics.Evaluate(in, c.Bookings, g.cfg.Settings, g.end)
	for i := range c.Contacts {
		c.Contacts[i].Verdict = vs[i]
		if i >= 1 {
			c.Contacts[i].Prev = c.Contacts[i-1].Contact.CreatedAt
		}
		if i >= 2 {
			c.Contacts[i].Prev2 = c.Contacts[i-2].Contact.CreatedAt
		}
	}
}

// bookerOnly is a customer who books and never contacts support: one to a
// handful of bookings, mostly with one partner.
func (g *gen) bookerOnly(i int) *Customer {
	c := &Customer{Key: fmt.Sprintf("g%08d@example.com", i)}
	home := pick(g.bookingCum, g.r)
	for n := 1 + int(g.r.ExpFloat64()*1.2); n > 0 && g.bookingsLeft > 0; n-- {
		p := home
		if g.r.Float64() < 0.15 {
			p = pick(g.bookingCum, g.r)
		}
		made := g.instant()
		c.Bookings = append(c.Bookings, g.newBooking(c.Key, g.partners[p], made, made.Add(g.days(1+g.r.Float64()*120))))
	}
	return c
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
