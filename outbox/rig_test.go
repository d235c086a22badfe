package outbox_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/connectors/freshdesk/freshdesktest"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/connectors/zendesk/zendesktest"
	"github.com/recontact/recontact/outbox"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.DropTemplates()
	os.Exit(code)
}

// writeback turns on the store side: evaluations queue write-back jobs for
// both helpdesks (main sets this for each helpdesk whose credentials are set
// and whose WRITEBACK is not off).
var writeback = store.Options{Writeback: map[recontact.Source]bool{
	recontact.SourceZendesk: true, recontact.SourceFreshdesk: true,
}}

// counter is an Observer that counts calls by helpdesk, kind and status.
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) Call(helpdesk, kind string, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[fmt.Sprintf("%s/%s/%d", helpdesk, kind, status)]++
}

func (c *counter) get(helpdesk, kind string, status int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[fmt.Sprintf("%s/%s/%d", helpdesk, kind, status)]
}

// rig is a store, a fake Zendesk, a client and a worker wired as main does.
type rig struct {
	t      *testing.T
	s      *store.Store
	clock  *zendesktest.Clock // the store's and the worker's clock; the fake and the limiter run on real time
	zd     *zendesktest.Server
	client *zendesk.Client
	lim    *outbox.Limiter
	fd     *freshdesktest.Server
	fdc    *freshdesk.Client
	flim   *outbox.Limiter
	obs    *counter
	w      *outbox.Worker
	seq    int
}

type rigOption struct {
	// realBudget uses the default budgets (50 updates a minute) rather than a
	// generous one that keeps the tests quick; the fake still enforces
	// Zendesk's 100 updates and 700 requests a minute either way.
	realBudget bool
	// unlimited lifts every limit, the fake's included, for tests about
	// something else that make many calls.
	unlimited bool
	fake      []zendesktest.Option
	client    func(*zendesk.Config)
	config    func(*outbox.Config)
	fdFake    []freshdesktest.Option
	// zendeskOnly leaves Freshdesk unconfigured, as in a Zendesk-only
	// deployment: claims are then sized by Zendesk's budget alone.
	zendeskOnly bool
}

func newRig(t *testing.T, s *store.Store, o rigOption) *rig {
	t.Helper()
	r := &rig{t: t, s: s, clock: zendesktest.NewClock(time.Now()), obs: &counter{}}
	s.Now = r.clock.Now
	if o.unlimited {
		o.fake = append(o.fake, zendesktest.WithRequestsPerMinute(0), zendesktest.WithTicketUpdatesPerMinute(0))
	}
	r.zd = zendesktest.New(t, o.fake...)
	r.lim = outbox.NewZendeskLimiter(1200, 180, outbox.DefaultShare)
	if o.unlimited {
		r.lim = outbox.NewZendeskLimiter(1_000_000, 1_000_000, 1)
	}
	if o.realBudget {
		r.lim = outbox.NewZendeskLimiter(outbox.DefaultZendeskRequestsPerMinute, outbox.DefaultZendeskUpdatesPerMinute, outbox.DefaultShare)
	}
	cc := zendesk.Config{
		BaseURL: r.zd.URL, Email: r.zd.Email, APIToken: r.zd.Token,
		Timeout:  2 * time.Second,
		RetryMax: -1, // the queue's retries are under test, not the client's
		// Any Retry-After goes back to the queue, as the issue asks.
		MaxRetryWait: time.Nanosecond,
		OnRate:       r.lim.ObserveZendesk,
	}
	if o.client != nil {
		o.client(&cc)
	}
	var err error
	if r.client, err = zendesk.NewClient(cc); err != nil {
		t.Fatal(err)
	}

	r.fd = freshdesktest.New(t, o.fdFake...)
	r.flim = outbox.NewFreshdeskLimiter(1200, outbox.DefaultShare)
	if o.unlimited {
		r.flim = outbox.NewFreshdeskLimiter(1_000_000, 1)
	}
	if o.realBudget {
		r.flim = outbox.NewFreshdeskLimiter(outbox.DefaultFreshdeskRequestsPerMinute, outbox.DefaultShare)
	}
	r.fdc, err = freshdesk.NewClient(freshdesk.Config{BaseURL: r.fd.URL, APIKey: r.fd.APIKey, RetryMax: -1,
		Timeout: 2 * time.Second, OnRate: r.flim.ObserveFreshdesk})
	if err != nil {
		t.Fatal(err)
	}
	cfg := outbox.Config{
		Store: s, Zendesk: r.client, ZendeskLimiter: r.lim, Freshdesk: r.fdc, FreshdeskLimiter: r.flim,
		Note: true, Observer: r.obs, Now: r.clock.Now,
	}
	if o.zendeskOnly {
		cfg.Freshdesk, cfg.FreshdeskLimiter = nil, nil
	}
	if o.config != nil {
		o.config(&cfg)
	}
	if r.w, err = outbox.New(cfg); err != nil {
		t.Fatal(err)
	}
	return r
}

var ctxb = context.Background()

// ticket seeds a Zendesk ticket in the fake and delivers it to the store as
// a webhook would. A solved ticket is solved 30 minutes after creation.
func (r *rig) ticket(id, email string, created time.Time, status recontact.Status, tags ...string) {
	r.t.Helper()
	fakeStatus := string(status)
	r.zd.AddTicket(zendesktest.Ticket{ID: id, Status: fakeStatus, Tags: tags, CreatedAt: created, UpdatedAt: created.Add(30 * time.Minute)})
	r.deliver(&recontact.Contact{Source: recontact.SourceZendesk, TicketID: id, CustomerEmail: email, Status: status,
		CreatedAt: created, UpdatedAt: created.Add(30 * time.Minute), Channel: "email", Tags: tags})
}

// fdTicket seeds a Freshdesk ticket (status 2 open, 4 resolved, 5 closed)
// and delivers it.
func (r *rig) fdTicket(id int64, email string, created time.Time, status int, tags ...string) {
	r.t.Helper()
	r.fd.AddTicket(freshdesktest.Ticket{ID: id, Status: status, Tags: tags, RequesterEmail: email, CreatedAt: created, UpdatedAt: created.Add(30 * time.Minute)})
	st := map[int]recontact.Status{2: recontact.StatusOpen, 3: recontact.StatusPending, 4: recontact.StatusSolved, 5: recontact.StatusClosed}[status]
	r.deliver(&recontact.Contact{Source: recontact.SourceFreshdesk, TicketID: strconv.FormatInt(id, 10), CustomerEmail: email,
		Status: st, CreatedAt: created, UpdatedAt: created.Add(30 * time.Minute), Channel: "email", Tags: tags})
}

func (r *rig) fdContact(id int64) *store.StoredContact {
	r.t.Helper()
	c, err := r.s.Contact(ctxb, recontact.SourceFreshdesk, strconv.FormatInt(id, 10))
	if err != nil {
		r.t.Fatalf("freshdesk contact %d: %v", id, err)
	}
	return c
}

func (r *rig) fdTags(id int64) []string {
	r.t.Helper()
	tk, ok := r.fd.Ticket(id)
	if !ok {
		r.t.Fatalf("freshdesk fake has no ticket %d", id)
	}
	return tk.Tags
}

// solve has an agent solve a seeded ticket, and delivers the webhook.
func (r *rig) solve(id, email string, created time.Time) {
	r.t.Helper()
	r.zd.SetStatus(id, "solved")
	r.deliver(&recontact.Contact{Source: recontact.SourceZendesk, TicketID: id, CustomerEmail: email, Status: recontact.StatusSolved,
		CreatedAt: created, UpdatedAt: r.clock.Now(), Channel: "email"})
}

func (r *rig) deliver(c *recontact.Contact) {
	r.t.Helper()
	r.seq++
	d := &recontact.Delivery{Source: c.Source, Key: fmt.Sprintf("d%d-%s", r.seq, c.TicketID), Body: []byte(`{}`), Contact: c}
	if _, err := r.s.Ingest(ctxb, d); err != nil {
		r.t.Fatalf("ingest %s: %v", c.TicketID, err)
	}
}

// evaluate runs the evaluator until nothing is dirty: that queues the jobs.
func (r *rig) evaluate() {
	r.t.Helper()
	for {
		n, err := r.s.EvaluateDirty(ctxb, 500)
		if err != nil {
			r.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// settle runs rounds until the queue holds no pending or running write-back,
// moving the clock past any backoff between rounds. It returns the rounds run.
func (r *rig) settle(maxRounds int) int {
	r.t.Helper()
	for i := 1; i <= maxRounds; i++ {
		if _, err := r.w.RunOnce(ctxb); err != nil {
			r.t.Fatalf("round %d: %v", i, err)
		}
		q := r.queue()
		if q.Pending == 0 && q.Running == 0 {
			return i
		}
		r.clock.Advance(11 * time.Minute)
	}
	r.t.Fatalf("write-back did not settle in %d rounds: %+v", maxRounds, r.queue())
	return 0
}

func (r *rig) queue() store.QueueStats {
	r.t.Helper()
	q, err := r.s.Queue(ctxb, []string{recontact.JobWriteback})
	if err != nil {
		r.t.Fatal(err)
	}
	return q
}

func (r *rig) contact(id string) *store.StoredContact {
	r.t.Helper()
	c, err := r.s.Contact(ctxb, recontact.SourceZendesk, id)
	if err != nil {
		r.t.Fatalf("contact %s: %v", id, err)
	}
	return c
}

func (r *rig) fakeTicket(id string) zendesktest.Ticket {
	r.t.Helper()
	tk, ok := r.zd.Ticket(id)
	if !ok {
		r.t.Fatalf("fake has no ticket %s", id)
	}
	return tk
}

// updates counts the fake's calls that update tickets.
func (r *rig) updates() map[zendesktest.Kind]int {
	out := map[zendesktest.Kind]int{}
	for _, k := range []zendesktest.Kind{zendesktest.KindAddTags, zendesktest.KindRemoveTags, zendesktest.KindSetTags,
		zendesktest.KindUpdateMany, zendesktest.KindTicketUpdate} {
		if n := r.zd.Calls(k); n > 0 {
			out[k] = n
		}
	}
	return out
}
