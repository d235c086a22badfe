package outbox_test

import (
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/freshdesk/freshdesktest"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// TestFreshdeskWaitsForTheRead: a Freshdesk webhook's contact is provisional
// (created when the webhook arrived) until the ticket job has read the
// ticket. An old ticket seen first through a webhook looks like a repeat of
// the customer's newer one; write-back sends nothing for it, and the
// evaluation after the read queues the write-back of the real verdict.
func TestFreshdeskWaitsForTheRead(t *testing.T) {
	storetest.Each(t, writeback, func(t *testing.T, s *store.Store) {
		r := newRig(t, s, rigOption{})
		now := r.clock.Now()
		r.fdTicket(21, "gus@example.com", now.Add(-time.Hour), 2) // read from the API already
		r.fd.AddTicket(freshdesktest.Ticket{ID: 20, Status: 2, RequesterEmail: "gus@example.com", CreatedAt: now.Add(-48 * time.Hour)})
		// The webhook for old ticket 20: no created_at or updated_at.
		r.deliver(&recontact.Contact{Source: recontact.SourceFreshdesk, TicketID: "20", CustomerEmail: "gus@example.com", Status: recontact.StatusOpen})
		r.evaluate()
		if c := r.fdContact(20); !c.Repeat {
			t.Fatalf("the provisional contact is no repeat; the test needs one")
		}
		r.settle(3)
		if n := len(r.fd.Notes(20)); n != 0 || len(r.fdTags(20)) != 0 {
			t.Fatalf("provisional ticket 20: %d notes, tags %v; want nothing written", n, r.fdTags(20))
		}
		if c := r.fdContact(20); c.Writeback != store.WritebackOff || c.WritebackError != "waiting for the ticket's API read" {
			t.Errorf("provisional contact: writeback %q (%q)", c.Writeback, c.WritebackError)
		}

		// The ticket job reads it: created two days ago, before 21.
		r.deliver(&recontact.Contact{Source: recontact.SourceFreshdesk, TicketID: "20", CustomerEmail: "gus@example.com",
			Status: recontact.StatusOpen, CreatedAt: now.Add(-48 * time.Hour), UpdatedAt: now.Add(-48 * time.Hour), Channel: "email"})
		r.evaluate()
		r.settle(3)
		if c := r.fdContact(20); c.Repeat || c.Writeback != store.WritebackDone {
			t.Errorf("after the read: repeat %v, writeback %q; want no repeat, done", c.Repeat, c.Writeback)
		}
		if n := len(r.fd.Notes(20)); n != 0 || len(r.fdTags(20)) != 0 {
			t.Errorf("ticket 20: %d notes, tags %v; want none", n, r.fdTags(20))
		}
		wantFdTags(t, r, 21, "repeat_contact")
		if n := len(r.fd.Notes(21)); n != 1 {
			t.Errorf("ticket 21: %d notes, want 1", n)
		}
	})
}
