package outbox

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/connectors/zendesk"
)

// Zendesk's per-ticket limit: 30 updates per 10 minutes per user and ticket
// (docs/zendesk.md §9). It is our integration user's own, so no share applies.
const (
	zendeskTicketUpdates = 30
	zendeskTicketWindow  = 10 * time.Minute
)

// unknownReset is the window assumed when a response gives a count but not
// when it resets; Zendesk's and Freshdesk's limits are per minute (§9, §5).
const unknownReset = time.Minute

// maxPauseWait is the longest pause Wait sits out; the clients wait out a
// Retry-After up to about this long themselves (zendesk.DefaultMaxRetryWait).
const maxPauseWait = 3 * time.Second

// Limiter keeps one helpdesk account's write-back under its share of the
// account's budgets. It is shared by every call to that account, so build one
// per helpdesk and pass its Observe method as the client's OnRate: the
// rate-limit headers of every response (write-back, enrichment, backfill)
// then slow it down when other apps use more of the account's budget, and a
// 429 pauses it until Retry-After.
//
// Budgets are token buckets (golang.org/x/time/rate) refilled at share × the
// plan's per-minute limit. Every call takes a request token; ticket updates
// also take an update token (Zendesk counts them separately, §9).
type Limiter struct {
	name  string
	share float64

	mu          sync.Mutex
	req, upd    bucket // upd.lim is nil when the helpdesk has no separate update budget
	pausedUntil time.Time
	throttled   int

	ticketLimit  int
	ticketWindow time.Duration
	tickets      map[string][]time.Time // update times per ticket, inside ticketWindow
	lastSweep    time.Time
}

// bucket is one budget: its configured limit and what the headers allow now.
type bucket struct {
	lim        *rate.Limiter
	taken      float64    // tokens handed out so far
	configured int        // the plan's limit per minute, from the settings
	base       rate.Limit // share × min(configured, the limit the headers report), per second
	slowUntil  time.Time  // when the headers' slow-down expires and base applies again
}

// NewZendeskLimiter budgets a Zendesk account: requestsPerMinute is the
// plan's account limit (ZENDESK_REQUESTS_PER_MINUTE), updatesPerMinute the
// ticket-update limit (ZENDESK_UPDATES_PER_MINUTE), share the part of both
// that write-back may use (WRITEBACK_BUDGET_SHARE). Each ticket also gets at
// most 30 updates in 10 minutes.
func NewZendeskLimiter(requestsPerMinute, updatesPerMinute int, share float64) *Limiter {
	l := newLimiter("zendesk", requestsPerMinute, updatesPerMinute, share)
	l.ticketLimit, l.ticketWindow = zendeskTicketUpdates, zendeskTicketWindow
	return l
}

// NewFreshdeskLimiter budgets a Freshdesk account: requestsPerMinute is the
// plan's limit (FRESHDESK_REQUESTS_PER_MINUTE), shared by all calls. Its
// write sub-limits are unconfirmed (docs/freshdesk.md §5), so there is no
// separate update budget.
func NewFreshdeskLimiter(requestsPerMinute int, share float64) *Limiter {
	return newLimiter("freshdesk", requestsPerMinute, 0, share)
}

func newLimiter(name string, reqPerMin, updPerMin int, share float64) *Limiter {
	if share <= 0 || share > 1 {
		share = DefaultShare
	}
	l := &Limiter{name: name, share: share, tickets: map[string][]time.Time{}}
	l.req = newBucket(reqPerMin, share)
	if updPerMin > 0 {
		l.upd = newBucket(updPerMin, share)
	}
	return l
}

func newBucket(perMinute int, share float64) bucket {
	perMinute = max(perMinute, 1)
	base := rate.Limit(float64(perMinute) * share / 60)
	// A small burst lets a quiet service answer a webhook at once, and stays
	// far inside the limit: burst + share × limit per minute, even when a
	// fixed window lines up badly.
	burst := max(1, int(float64(perMinute)*share/20))
	return bucket{lim: rate.NewLimiter(base, burst), configured: perMinute, base: base}
}

// Observe takes the rate-limit state one response reported: the account's
// limit, what is left of it and when it resets, the same for ticket updates
// where the helpdesk reports them, and Retry-After on a 429. Counts are -1
// and durations 0 when not reported.
func (l *Limiter) Observe(r RateState) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Status == 429 {
		l.throttled++
		wait := r.RetryAfter
		if wait <= 0 {
			wait = max(r.Reset, 5*time.Second)
		}
		l.pause(now, wait)
	} else if r.RetryAfter > 0 { // 503 with Retry-After
		l.pause(now, r.RetryAfter)
	}
	l.adapt(&l.req, now, r.Limit, r.Remaining, r.Reset)
	if l.upd.lim != nil {
		l.adapt(&l.upd, now, r.UpdatesLimit, r.UpdatesRemaining, r.UpdatesReset)
	}
}

// RateState is what one response said about the budgets, in the helpdesk's
// own terms; see Observe.
type RateState struct {
	Status           int
	Limit, Remaining int
	Reset            time.Duration
	// Ticket updates (Zendesk-RateLimit-tickets-update).
	UpdatesLimit, UpdatesRemaining int
	UpdatesReset                   time.Duration
	RetryAfter                     time.Duration
}

// ObserveZendesk is Observe for zendesk.Config.OnRate.
func (l *Limiter) ObserveZendesk(i zendesk.RateInfo) {
	l.Observe(RateState{
		Status: i.Status, Limit: i.Limit, Remaining: i.Remaining, Reset: i.Reset,
		UpdatesLimit: i.UpdatesLimit, UpdatesRemaining: i.UpdatesRemaining, UpdatesReset: i.UpdatesReset,
		RetryAfter: i.RetryAfter,
	})
}

// ObserveFreshdesk is Observe for freshdesk.Config.OnRate. Freshdesk sends
// no reset time; its limit is per minute (freshdesk.md §5).
func (l *Limiter) ObserveFreshdesk(i freshdesk.RateInfo) {
	l.Observe(RateState{
		Status: i.Status, Limit: i.Limit, Remaining: i.Remaining, RetryAfter: i.RetryAfter,
		UpdatesLimit: -1, UpdatesRemaining: -1,
	})
}

func (l *Limiter) pause(now time.Time, d time.Duration) {
	if until := now.Add(d); until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}

// adapt slows a bucket to our share of what is left of the account's budget
// until it resets. Alone we never slow ourselves this way: with share s of a
// fixed window, s × remaining / time left never falls below s × limit / window.
// When others use the account heavily the remaining budget shrinks faster, and
// so does our rate; at zero we pause until the reset.
func (l *Limiter) adapt(b *bucket, now time.Time, limit, remaining int, reset time.Duration) {
	if limit > 0 {
		if base := rate.Limit(float64(min(limit, b.configured)) * l.share / 60); base != b.base {
			b.base = base
			if !now.Before(b.slowUntil) {
				b.lim.SetLimitAt(now, base)
			}
		}
	}
	if remaining < 0 {
		return
	}
	window := reset
	if window <= 0 {
		window = unknownReset
	}
	if remaining == 0 && reset > 0 {
		l.pause(now, reset)
		return
	}
	allowed := rate.Limit(l.share * float64(remaining) / window.Seconds())
	if remaining == 0 {
		// No reset time (Freshdesk): one call in 10 s finds out, and a 429
		// then says how long to wait.
		allowed = 0.1
	}
	if reset <= 0 && limit > 0 {
		// Without a reset time, remaining/minute would slow us as our own use
		// lowers it; slow down only once less than a tenth is left.
		if float64(remaining) >= 0.1*float64(limit) {
			allowed = b.base
		}
	}
	if allowed < b.base {
		b.lim.SetLimitAt(now, allowed)
		b.slowUntil = now.Add(window)
		return
	}
	if b.lim.Limit() != b.base {
		b.lim.SetLimitAt(now, b.base)
	}
	b.slowUntil = time.Time{}
}

// PausedFor reports how long a 429 (or an exhausted budget) stops all calls.
func (l *Limiter) PausedFor() time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(time.Until(l.pausedUntil), 0)
}

// Throttled counts the 429 answers the limiter has seen.
func (l *Limiter) Throttled() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.throttled
}

// PerMinute reports the current rates, in calls per minute: requests and
// ticket updates (0 when there is no separate update budget).
func (l *Limiter) PerMinute() (requests, updates float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.expire(now)
	requests = float64(l.req.lim.Limit()) * 60
	if l.upd.lim != nil {
		updates = float64(l.upd.lim.Limit()) * 60
	}
	return requests, updates
}

// expire returns buckets whose slow-down ran out to their base rate.
func (l *Limiter) expire(now time.Time) {
	for _, b := range []*bucket{&l.req, &l.upd} {
		if b.lim != nil && !b.slowUntil.IsZero() && !now.Before(b.slowUntil) {
			b.lim.SetLimitAt(now, b.base)
			b.slowUntil = time.Time{}
		}
	}
}

// usage reports the tokens handed out so far, requests then updates.
func (l *Limiter) usage() [2]float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return [2]float64{l.req.taken, l.upd.taken}
}

// capacity estimates the calls that can start within d from now, requests
// then updates (updates is +Inf without a separate budget).
func (l *Limiter) capacity(d time.Duration) [2]float64 {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire(now)
	d -= max(l.pausedUntil.Sub(now), 0)
	if d <= 0 {
		return [2]float64{}
	}
	out := [2]float64{math.Inf(1), math.Inf(1)}
	for i, b := range []*bucket{&l.req, &l.upd} {
		if b.lim != nil {
			out[i] = max(0, b.lim.TokensAt(now)+float64(b.lim.Limit())*d.Seconds())
		}
	}
	return out
}

// budgetError says a call cannot be made before the caller's deadline; the
// job is rescheduled for when it can.
type budgetError struct {
	helpdesk string
	wait     time.Duration
	reason   string
}

func (e *budgetError) Error() string {
	return fmt.Sprintf("%s %s: next call possible in %s", e.helpdesk, e.reason, e.wait.Round(time.Millisecond))
}

// RetryDelay tells the queue when to try again.
func (e *budgetError) RetryDelay() time.Duration { return e.wait }

// Wait blocks until one call may be made: a request token, an update token
// when update is set, and for Zendesk room in each named ticket's own
// budget. It fails at once, taking nothing, when that would take past ctx's
// deadline or the tickets are at their limit; the error says when to retry.
func (l *Limiter) Wait(ctx context.Context, update bool, tickets ...string) error {
	return l.waitN(ctx, 1, update, tickets)
}

// waitN is Wait for n calls made back to back (Freshdesk's read-merge-write).
func (l *Limiter) waitN(ctx context.Context, n int, update bool, tickets []string) error {
	for {
		now := time.Now()
		l.mu.Lock()
		l.expire(now)
		paused := l.pausedUntil.Sub(now)
		var ticketWait time.Duration
		if update && paused <= 0 {
			ticketWait = l.ticketWait(now, tickets)
		}
		l.mu.Unlock()
		if ticketWait > 0 {
			return &budgetError{l.name, ticketWait, "ticket update limit (30 per ticket per 10 minutes)"}
		}
		if paused > 0 {
			// A short pause is waited out; a longer one goes back to the queue,
			// durably, rather than holding a worker and its lease.
			if paused > maxPauseWait {
				return &budgetError{l.name, paused, "rate limited"}
			}
			if err := sleep(ctx, paused, &budgetError{l.name, paused, "rate limited"}); err != nil {
				return err
			}
			continue
		}
		// One token at a time: n may exceed the burst.
		var rs []*rate.Reservation
		l.mu.Lock()
		for range n {
			rs = append(rs, l.req.lim.ReserveN(now, 1))
			if update && l.upd.lim != nil {
				rs = append(rs, l.upd.lim.ReserveN(now, 1))
			}
		}
		l.mu.Unlock()
		var delay time.Duration
		for _, r := range rs {
			if !r.OK() {
				delay = time.Minute
				break
			}
			delay = max(delay, r.DelayFrom(now))
		}
		cancel := func() {
			for i := len(rs) - 1; i >= 0; i-- {
				rs[i].CancelAt(now)
			}
		}
		if err := sleep(ctx, delay, &budgetError{l.name, delay, "budget"}); err != nil {
			cancel()
			return err
		}
		if l.PausedFor() > 0 {
			continue // a 429 arrived while we waited: the tokens are spent, wait it out
		}
		l.mu.Lock()
		l.req.taken += float64(n)
		if update && l.upd.lim != nil {
			l.upd.taken += float64(n)
		}
		if update && len(tickets) > 0 {
			l.recordTickets(time.Now(), tickets)
		}
		l.mu.Unlock()
		return nil
	}
}

// sleep waits d, or returns tooLong at once when d ends after ctx's
// deadline, or ctx's error when it ends first.
func sleep(ctx context.Context, d time.Duration, tooLong error) error {
	if d <= 0 {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && time.Now().Add(d).After(dl) {
		return tooLong
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ticketDelay is how long until the ticket has room for one more update
// under the per-ticket limit (0: now).
func (l *Limiter) ticketDelay(id string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ticketWait(time.Now(), []string{id})
}

// ticketWait is how long until every ticket has room for one more update.
func (l *Limiter) ticketWait(now time.Time, tickets []string) time.Duration {
	if l.ticketLimit == 0 {
		return 0
	}
	var wait time.Duration
	for _, id := range tickets {
		times := l.live(now, id)
		if len(times) >= l.ticketLimit {
			wait = max(wait, times[len(times)-l.ticketLimit].Add(l.ticketWindow).Sub(now))
		}
	}
	return wait
}

func (l *Limiter) live(now time.Time, id string) []time.Time {
	times := l.tickets[id]
	i := 0
	for i < len(times) && !times[i].After(now.Add(-l.ticketWindow)) {
		i++
	}
	if i > 0 {
		times = times[i:]
		if len(times) == 0 {
			delete(l.tickets, id)
		} else {
			l.tickets[id] = times
		}
	}
	return times
}

func (l *Limiter) recordTickets(now time.Time, tickets []string) {
	if l.ticketLimit == 0 {
		return
	}
	for _, id := range tickets {
		l.tickets[id] = append(l.live(now, id), now)
	}
	// Forget quiet tickets now and then, so a long re-tag does not keep 10,000
	// entries for the rest of the process's life.
	if now.Sub(l.lastSweep) > l.ticketWindow {
		l.lastSweep = now
		for id := range l.tickets {
			l.live(now, id)
		}
	}
}
