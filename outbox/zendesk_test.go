package outbox_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/connectors/zendesk/zendesktest"
	"github.com/recontact/recontact/outbox"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// sorted returns tags sorted, for comparing sets.
func sorted(tags []string) []string { return slices.Sorted(slices.Values(tags)) }

func wantTags(t *testing.T, r *rig, id string, want ...string) {
	t.Helper()
	if got := sorted(r.fakeTicket(id).Tags); !slices.Equal(got, sorted(want)) {
		t.Errorf("ticket %s tags = %q, want %q", id, got, sorted(want))
	}
}

func wantCalls(t *testing.T, r *rig, want map[zendesktest.Kind]int) {
	t.Helper()
	if got := r.updates(); !maps.Equal(got, want) {
		t.Errorf("update calls = %v, want %v", got, want)
	}
}

func TestZendeskAddAndRemove(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{})
		now := r.clock.Now()
		r.ticket("101", "ann@example.com", now.Add(-2*time.Hour), recontact.StatusSolved, "vip")
		r.evaluate()
		r.settle(3)
		wantTags(t, r, "101", "vip", "fcr")
		c := r.contact("101")
		if c.Writeback != "done" || !slices.Equal(c.TagsWritten, []string{"fcr"}) || c.WritebackError != "" {
			t.Errorf("after first write: writeback %q, written %q, error %q; want done, [fcr], none", c.Writeback, c.TagsWritten, c.WritebackError)
		}
		wantCalls(t, r, map[zendesktest.Kind]int{zendesktest.KindAddTags: 1})

		// Zendesk reports three replies: the ticket is no longer first-contact.
		if err := s.SetCounts(ctxb, recontact.SourceZendesk, "101", 3, 0, time.Time{}); err != nil {
			t.Fatal(err)
		}
		r.evaluate()
		r.settle(3)
		wantTags(t, r, "101", "vip", "not_fcr")
		if c := r.contact("101"); !slices.Equal(c.TagsWritten, []string{"not_fcr"}) || c.Writeback != "done" {
			t.Errorf("after fcr → not_fcr: written %q, writeback %q", c.TagsWritten, c.Writeback)
		}
		wantCalls(t, r, map[zendesktest.Kind]int{zendesktest.KindAddTags: 2, zendesktest.KindRemoveTags: 1})
		if got := r.obs.get("zendesk", "tags_add", 200) + r.obs.get("zendesk", "tags_remove", 200); got != 3 {
			t.Errorf("observer saw %d tag calls, want 3", got)
		}
	})
}

func TestZendeskForeignTagsSurvive(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{})
		now := r.clock.Now()
		r.ticket("201", "bo@example.com", now.Add(-2*time.Hour), recontact.StatusSolved, "vip", "stage_vip")
		// An agent tags the ticket while the job waits in the queue, and also
		// puts one of our names on it by hand.
		r.evaluate()
		r.zd.AddTagsAsAgent("201", "billing", "not_fcr")
		r.settle(3)
		// Ours: fcr added, the stray not_fcr removed; every foreign tag stays.
		wantTags(t, r, "201", "vip", "stage_vip", "billing", "fcr")

		// Between our calls, the agent keeps tagging; the verdict changes.
		r.zd.AddTagsAsAgent("201", "escalated")
		if err := s.SetCounts(ctxb, recontact.SourceZendesk, "201", 2, 0, time.Time{}); err != nil {
			t.Fatal(err)
		}
		r.evaluate()
		r.zd.AddTagsAsAgent("201", "late")
		r.settle(3)
		wantTags(t, r, "201", "vip", "stage_vip", "billing", "escalated", "late", "not_fcr")
		if n := r.zd.Calls(zendesktest.KindSetTags) + r.zd.Calls(zendesktest.KindTicketUpdate); n != 0 {
			t.Errorf("%d calls that replace a ticket's tags; recontact must only add and remove", n)
		}
	})
}

func TestZendeskBatching(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{realBudget: true, zendeskOnly: true})
		now := r.clock.Now()
		const n = 250
		for i := range n {
			id := strconv.Itoa(1000 + i)
			r.ticket(id, "c"+id+"@example.com", now.Add(-2*time.Hour), recontact.StatusSolved, "vip")
		}
		// One odd ticket needs a different change and goes on its own.
		r.ticket("999", "odd@example.com", now.Add(-2*time.Hour), recontact.StatusOpen)
		r.ticket("998", "odd@example.com", now.Add(-time.Hour), recontact.StatusOpen)
		r.evaluate()
		r.settle(10)
		for i := range n {
			wantTags(t, r, strconv.Itoa(1000+i), "vip", "fcr")
		}
		wantTags(t, r, "998", "repeat_contact")
		got := r.updates()
		if got[zendesktest.KindUpdateMany] > 3 || got[zendesktest.KindAddTags] != 1 {
			t.Errorf("update calls = %v, want at most 3 update_many for %d tickets and one tags_add", got, n)
		}
		if r.zd.Throttled() != 0 {
			t.Errorf("%d answers were 429", r.zd.Throttled())
		}
		if c := r.contact("1042"); c.Writeback != "done" || !slices.Equal(c.TagsWritten, []string{"fcr"}) {
			t.Errorf("contact 1042: writeback %q, written %q", c.Writeback, c.TagsWritten)
		}
		if r.obs.get("zendesk", "job_status", 200) < got[zendesktest.KindUpdateMany] {
			t.Errorf("observer saw %d job status reads for %d jobs", r.obs.get("zendesk", "job_status", 200), got[zendesktest.KindUpdateMany])
		}
	})
}

func TestZendeskNoteOnce(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{})
		now := r.clock.Now()
		r.ticket("301", "Cy@Example.com", now.Add(-72*time.Hour), recontact.StatusSolved)
		r.ticket("302", "cy@example.com", now.Add(-time.Hour), recontact.StatusOpen)
		r.evaluate()
		r.settle(3)
		wantTags(t, r, "301", "not_fcr") // the customer came back inside the FCR window
		wantTags(t, r, "302", "repeat_contact")
		tk := r.fakeTicket("302")
		if len(tk.Comments) != 1 {
			t.Fatalf("ticket 302 has %d comments, want one note", len(tk.Comments))
		}
		note := tk.Comments[0]
		if note.Public {
			t.Error("the note is public; it must be internal (public:false)")
		}
		if !strings.Contains(note.Body, "#301 (solved, opened ") || !strings.Contains(note.Body, "within 7 days") {
			t.Errorf("note body = %q, want it to list #301 as solved", note.Body)
		}
		if strings.Contains(strings.ToLower(note.Body), "cy@example.com") || strings.Contains(note.Body, "@") {
			t.Errorf("note body shows an e-mail address: %q", note.Body)
		}
		if c := r.contact("302"); !c.NoteWritten {
			t.Error("NoteWritten is false after the note was written")
		}
		if len(r.fakeTicket("301").Comments) != 0 {
			t.Error("the first contact got a note")
		}

		// The repeat contact is solved: its tags change, the note is not repeated.
		r.solve("302", "cy@example.com", now.Add(-time.Hour))
		r.evaluate()
		r.settle(3)
		wantTags(t, r, "302", "repeat_contact", "fcr")
		if n := len(r.fakeTicket("302").Comments); n != 1 {
			t.Errorf("ticket 302 has %d comments after a second write-back, want 1", n)
		}
	})
}

func TestZendeskRateLimitStorm(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{})
		now := r.clock.Now()
		r.ticket("401", "dee@example.com", now.Add(-2*time.Hour), recontact.StatusSolved)
		r.ticket("402", "eve@example.com", now.Add(-72*time.Hour), recontact.StatusOpen)
		r.ticket("403", "eve@example.com", now.Add(-time.Hour), recontact.StatusOpen)
		r.evaluate()
		r.zd.FailNext(4, zendesktest.Fault{Status: 429, RetryAfter: time.Second})

		_, err := r.w.RunOnce(ctxb)
		if err != nil {
			t.Fatal(err)
		}
		// The first call met a 429: its job is back in the queue for
		// Retry-After, nothing was slept on for long, and nothing failed.
		q := r.queue()
		if q.Pending == 0 || q.Failed != 0 {
			t.Errorf("after a 429: queue %+v, want pending jobs and none failed", q)
		}
		c := r.contact("401")
		if c.Writeback != "pending" && c.Writeback != "done" {
			t.Errorf("contact 401 writeback = %q", c.Writeback)
		}
		if r.lim.Throttled() == 0 {
			t.Error("the limiter did not see the 429")
		}
		r.settle(20)
		wantTags(t, r, "401", "fcr")
		wantTags(t, r, "403", "repeat_contact")
		if n := len(r.fakeTicket("403").Comments); n != 1 {
			t.Errorf("ticket 403 has %d notes, want 1", n)
		}
		if got := r.zd.Throttled(); got != 4 {
			t.Errorf("fake answered %d times 429, want the 4 injected", got)
		}
		if q := r.queue(); q.Failed != 0 {
			t.Errorf("%d jobs in the dead letter after a 429 storm", q.Failed)
		}
	})
}

func TestZendeskServerErrorsAndTimeouts(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{client: func(c *zendesk.Config) { c.Timeout = 300 * time.Millisecond }})
		now := r.clock.Now()
		r.ticket("501", "fay@example.com", now.Add(-2*time.Hour), recontact.StatusSolved)
		r.evaluate()

		r.zd.FailNext(2, zendesktest.Fault{Status: 500})
		r.w.RunOnce(ctxb)
		c := r.contact("501")
		if c.Writeback != "pending" || !strings.Contains(c.WritebackError, "500") {
			t.Errorf("after a 500: writeback %q, error %q; want pending with the cause", c.Writeback, c.WritebackError)
		}
		r.clock.Advance(11 * time.Minute)
		r.w.RunOnce(ctxb) // second 500

		r.zd.SetLatency(time.Second) // longer than the client's deadline
		r.clock.Advance(11 * time.Minute)
		r.w.RunOnce(ctxb)
		if c := r.contact("501"); !strings.Contains(c.WritebackError, "did not answer") {
			t.Errorf("after a timeout: error %q", c.WritebackError)
		}
		r.zd.SetLatency(0)
		r.clock.Advance(11 * time.Minute)
		r.settle(5)
		wantTags(t, r, "501", "fcr")
		if c := r.contact("501"); c.Writeback != "done" || c.WritebackError != "" {
			t.Errorf("finally: writeback %q, error %q", c.Writeback, c.WritebackError)
		}
		if r.obs.get("zendesk", "tags_add", 0) != 3 {
			t.Errorf("observer saw %d failed tag calls, want 3", r.obs.get("zendesk", "tags_add", 0))
		}
	})
}

func TestZendeskClosedTickets(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{})
		now := r.clock.Now()
		// A lone closed ticket goes through the Tags API; in a batch, the
		// job's results say which one failed.
		r.ticket("601", "gus@example.com", now.Add(-2*time.Hour), recontact.StatusClosed)
		for i := range 5 {
			id := strconv.Itoa(610 + i)
			status := recontact.StatusSolved
			if i == 2 {
				status = recontact.StatusClosed
			}
			r.ticket(id, "h"+id+"@example.com", now.Add(-2*time.Hour), status)
		}
		r.ticket("620", "ida@example.com", now.Add(-72*time.Hour), recontact.StatusOpen)
		r.ticket("621", "ida@example.com", now.Add(-time.Hour), recontact.StatusClosed) // repeat: tags and note refused
		r.evaluate()
		r.settle(3)
		for _, id := range []string{"601", "612", "621"} {
			c := r.contact(id)
			if c.Writeback != "failed" || c.WritebackError != "ticket closed" {
				t.Errorf("closed %s: writeback %q, error %q; want failed, ticket closed", id, c.Writeback, c.WritebackError)
			}
			wantTags(t, r, id)
		}
		for _, id := range []string{"610", "611", "613", "614"} {
			wantTags(t, r, id, "fcr")
		}
		if q := r.queue(); q.Pending+q.Running+q.Failed != 0 {
			t.Errorf("queue after closed tickets: %+v; want them dropped, not retried", q)
		}
		before := r.updates()
		r.clock.Advance(time.Hour)
		if n, _ := r.w.RunOnce(ctxb); n != 0 {
			t.Errorf("a later round claimed %d jobs", n)
		}
		wantCalls(t, r, before)
		if got := before[zendesktest.KindTicketUpdate]; got != 0 {
			t.Errorf("%d notes tried on a closed ticket after its tags were refused", got)
		}
	})
}

func TestKillAndRestart(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{config: func(c *outbox.Config) { c.Lease = 30 * time.Second }})
		now := r.clock.Now()
		for i := range 20 {
			id := strconv.Itoa(700 + i)
			r.ticket(id, "k"+id+"@example.com", now.Add(-2*time.Hour), recontact.StatusSolved)
		}
		r.ticket("750", "kim@example.com", now.Add(-72*time.Hour), recontact.StatusOpen)
		r.ticket("751", "kim@example.com", now.Add(-time.Hour), recontact.StatusOpen)
		r.evaluate()

		// A worker claims everything and dies before doing anything.
		claimed, err := s.Claim(ctxb, []string{recontact.JobWriteback}, 100, time.Minute)
		if err != nil || len(claimed) != 22 {
			t.Fatalf("claim: %d jobs, %v; want 22", len(claimed), err)
		}
		if n, _ := r.w.RunOnce(ctxb); n != 0 {
			t.Fatalf("a new worker took %d jobs still under lease", n)
		}
		// The lease runs out: the new worker picks them up.
		r.clock.Advance(61 * time.Second)

		// This worker is killed in the middle of its round, with calls in flight.
		r.zd.SetLatency(200 * time.Millisecond)
		ctx, cancel := context.WithTimeout(ctxb, 300*time.Millisecond)
		r.w.RunOnce(ctx)
		cancel()
		r.zd.SetLatency(0)

		// A third worker, after a restart, finishes the work.
		w, err := outbox.New(outbox.Config{Store: s, Zendesk: r.client, ZendeskLimiter: r.lim, Note: true, Now: r.clock.Now, Lease: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		r.w = w
		r.clock.Advance(11 * time.Minute)
		r.settle(10)
		for i := range 20 {
			wantTags(t, r, strconv.Itoa(700+i), "fcr")
		}
		wantTags(t, r, "751", "repeat_contact")
		if n := len(r.fakeTicket("751").Comments); n != 1 {
			t.Errorf("ticket 751 has %d notes, want 1", n)
		}
		if q := r.queue(); q.Failed != 0 {
			t.Errorf("queue %+v", q)
		}
	})
}

func TestEchoWritesNothing(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{})
		now := r.clock.Now()
		r.ticket("801", "jo@example.com", now.Add(-72*time.Hour), recontact.StatusSolved)
		r.ticket("802", "jo@example.com", now.Add(-time.Hour), recontact.StatusOpen, "vip")
		r.evaluate()
		r.settle(3)
		before := r.updates()

		// Zendesk tells us about the updates we just made: the webhooks carry
		// the tickets as they are now.
		for _, id := range []string{"801", "802"} {
			c, err := r.client.Ticket(ctxb, id)
			if err != nil {
				t.Fatal(err)
			}
			r.deliver(c)
		}
		r.evaluate()
		if q := r.queue(); q.Pending != 0 {
			t.Errorf("the echo queued %d write-backs", q.Pending)
		}
		// Even a job that arrives anyway (an admin's retry, a duplicate)
		// finds nothing to send.
		if err := s.Enqueue(ctxb, recontact.Job{Kind: recontact.JobWriteback, Key: "zendesk:802"}); err != nil {
			t.Fatal(err)
		}
		if n, err := r.w.RunOnce(ctxb); n != 1 || err != nil {
			t.Fatalf("RunOnce = %d, %v; want the one job", n, err)
		}
		wantCalls(t, r, before)
		if n := len(r.fakeTicket("802").Comments); n != 1 {
			t.Errorf("ticket 802 has %d notes, want 1", n)
		}
	})
}

func TestDryRun(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{config: func(c *outbox.Config) { c.Mode = outbox.ModeDryRun }})
		now := r.clock.Now()
		r.ticket("901", "kay@example.com", now.Add(-72*time.Hour), recontact.StatusSolved)
		r.ticket("902", "kay@example.com", now.Add(-time.Hour), recontact.StatusOpen)
		r.evaluate()
		r.settle(3)
		wantCalls(t, r, map[zendesktest.Kind]int{})
		wantTags(t, r, "902")
		c := r.contact("902")
		if c.Writeback != "dry-run" || len(c.TagsWritten) != 0 || c.NoteWritten {
			t.Errorf("dry-run contact: writeback %q, written %q, note %v; want dry-run with nothing written", c.Writeback, c.TagsWritten, c.NoteWritten)
		}
		want := "dry-run: would add repeat_contact; would write the repeat-contact note"
		if c.WritebackError != want {
			t.Errorf("dry-run plan = %q, want %q", c.WritebackError, want)
		}
		if c := r.contact("901"); c.WritebackError != "dry-run: would add not_fcr" {
			t.Errorf("dry-run plan of 901 = %q", c.WritebackError)
		}

		// Switched on, the next change writes the whole set, not just the delta.
		w, err := outbox.New(outbox.Config{Store: s, Zendesk: r.client, ZendeskLimiter: r.lim, Note: true, Now: r.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		r.w = w
		r.solve("902", "kay@example.com", now.Add(-time.Hour))
		r.evaluate()
		r.settle(3)
		wantTags(t, r, "902", "repeat_contact", "fcr")
		if n := len(r.fakeTicket("902").Comments); n != 1 {
			t.Errorf("after switching on: %d notes, want 1", n)
		}
	})
}

func TestDeadLetter(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{config: func(c *outbox.Config) { c.MaxAttempts = 3 }})
		now := r.clock.Now()
		r.ticket("1101", "lee@example.com", now.Add(-2*time.Hour), recontact.StatusSolved)
		r.evaluate()
		r.zd.FailNext(3, zendesktest.Fault{Status: 502, Kind: zendesktest.KindAddTags})
		for range 5 {
			r.w.RunOnce(ctxb)
			r.clock.Advance(11 * time.Minute)
		}
		if r.zd.Calls(zendesktest.KindAddTags) != 3 {
			t.Errorf("%d attempts, want 3", r.zd.Calls(zendesktest.KindAddTags))
		}
		q := r.queue()
		if q.Failed != 1 || q.Pending != 0 {
			t.Fatalf("queue %+v, want one job in the dead letter", q)
		}
		c := r.contact("1101")
		if c.Writeback != "failed" || !strings.Contains(c.WritebackError, "502") {
			t.Errorf("contact: writeback %q, error %q", c.Writeback, c.WritebackError)
		}
		jobs, _ := s.Jobs(ctxb, []string{recontact.JobWriteback}, store.JobFailed, 10)
		if len(jobs) != 1 || !strings.Contains(jobs[0].LastError, "502") {
			t.Errorf("dead letter: %+v", jobs)
		}
		// An admin retries it once Zendesk is back.
		if err := s.RetryFailed(ctxb, jobs[0].ID); err != nil {
			t.Fatal(err)
		}
		r.settle(3)
		wantTags(t, r, "1101", "fcr")
	})
}

func TestTwoWorkers(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{unlimited: true, config: func(c *outbox.Config) { c.Batch = 7 }})
		now := r.clock.Now()
		for i := range 30 {
			email := fmt.Sprintf("m%d@example.com", i)
			r.ticket(strconv.Itoa(1200+2*i), email, now.Add(-72*time.Hour), recontact.StatusOpen)
			r.ticket(strconv.Itoa(1201+2*i), email, now.Add(-time.Hour), recontact.StatusOpen)
		}
		r.evaluate()
		// A second instance: its own limiter, the same database and account.
		other, err := outbox.New(outbox.Config{Store: s, Zendesk: r.client, ZendeskLimiter: outbox.NewZendeskLimiter(1_000_000, 1_000_000, 1),
			Note: true, Now: r.clock.Now, Batch: 7})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for _, w := range []*outbox.Worker{r.w, other} {
			wg.Go(func() {
				for {
					n, err := w.RunOnce(ctxb)
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		for i := range 30 {
			id := strconv.Itoa(1201 + 2*i)
			wantTags(t, r, id, "repeat_contact")
			if n := len(r.fakeTicket(id).Comments); n != 1 {
				t.Errorf("ticket %s has %d notes, want 1", id, n)
			}
		}
		if q := r.queue(); q.Pending+q.Running+q.Failed != 0 {
			t.Errorf("queue %+v", q)
		}
	})
}

func TestZendeskBulkFailures(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{})
		now := r.clock.Now()
		for i := range 5 {
			id := strconv.Itoa(1300 + i)
			r.ticket(id, "n"+id+"@example.com", now.Add(-2*time.Hour), recontact.StatusSolved)
		}
		// Known to the store, deleted in Zendesk since.
		r.deliver(&recontact.Contact{Source: recontact.SourceZendesk, TicketID: "1399", CustomerEmail: "gone@example.com",
			Status: recontact.StatusSolved, CreatedAt: now.Add(-2 * time.Hour), UpdatedAt: now.Add(-time.Hour)})
		r.evaluate()

		// The bulk call fails: the whole group goes back to the queue, to be
		// batched again, rather than ticket by ticket.
		r.zd.FailNext(1, zendesktest.Fault{Status: 500, Kind: zendesktest.KindUpdateMany})
		r.w.RunOnce(ctxb)
		if q := r.queue(); q.Pending != 6 {
			t.Errorf("after a failed bulk call: %+v, want all 6 pending", q)
		}
		if n := r.zd.Calls(zendesktest.KindAddTags); n != 0 {
			t.Errorf("%d single calls after a failed bulk call, want 0", n)
		}
		r.clock.Advance(11 * time.Minute)
		r.settle(3)
		for i := range 5 {
			wantTags(t, r, strconv.Itoa(1300+i), "fcr")
		}
		// The job's result failed the missing ticket; alone through the Tags
		// API it answers 404, which is final.
		if c := r.contact("1399"); c.Writeback != "failed" || c.WritebackError != "ticket not found" {
			t.Errorf("missing ticket: writeback %q, error %q", c.Writeback, c.WritebackError)
		}
		wantCalls(t, r, map[zendesktest.Kind]int{zendesktest.KindUpdateMany: 2, zendesktest.KindAddTags: 1})
		if q := r.queue(); q.Pending+q.Failed != 0 {
			t.Errorf("queue %+v", q)
		}
	})
}
