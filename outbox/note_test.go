package outbox_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/outbox"
)

func TestNote(t *testing.T) {
	at := time.Date(2026, 10, 1, 9, 30, 0, 0, time.UTC)
	n := outbox.Note{
		Source: recontact.SourceZendesk,
		Window: 7 * 24 * time.Hour,
		Earlier: []outbox.EarlierTicket{
			{Source: recontact.SourceZendesk, TicketID: "101", Status: recontact.StatusSolved, CreatedAt: at},
			{Source: recontact.SourceFreshdesk, TicketID: "55", Status: recontact.StatusOpen},
			{Source: recontact.SourceZendesk, TicketID: "102"},
		},
	}
	wantText := "recontact: repeat contact. The customer opened 3 other tickets within 7 days before this one:\n" +
		"- #101 (solved, opened 2026-10-01 09:30 UTC)\n" +
		"- Freshdesk #55 (open)\n" +
		"- #102 (status unknown)"
	if got := outbox.NoteText(n); got != wantText {
		t.Errorf("NoteText:\n got %q\nwant %q", got, wantText)
	}
	wantHTML := "<p>recontact: repeat contact. The customer opened 3 other tickets within 7 days before this one:</p><ul>" +
		"<li>#101 (solved, opened 2026-10-01 09:30 UTC)</li><li>Freshdesk #55 (open)</li><li>#102 (status unknown)</li></ul>"
	if got := outbox.NoteHTML(n); got != wantHTML {
		t.Errorf("NoteHTML:\n got %q\nwant %q", got, wantHTML)
	}
}

func TestNoteEscapesAndCaps(t *testing.T) {
	n := outbox.Note{Source: recontact.SourceFreshdesk, Window: 36 * time.Hour}
	n.Earlier = append(n.Earlier, outbox.EarlierTicket{Source: recontact.SourceFreshdesk, TicketID: `<script>"x"&`})
	for i := range 30 {
		n.Earlier = append(n.Earlier, outbox.EarlierTicket{Source: recontact.SourceFreshdesk, TicketID: strconv.Itoa(i)})
	}
	h := outbox.NoteHTML(n)
	if strings.Contains(h, "<script>") || strings.Contains(h, `"x"`) {
		t.Errorf("NoteHTML did not escape a ticket id: %s", h)
	}
	if !strings.Contains(h, "36 hours") || !strings.Contains(h, "31 other tickets") {
		t.Errorf("NoteHTML heading: %s", h)
	}
	// The newest 20 are listed, then a count of the rest.
	if !strings.Contains(h, "<li>#29 (status unknown)</li>") || strings.Contains(h, "<li>#9 (") || !strings.Contains(h, "and 11 older") {
		t.Errorf("NoteHTML list: %s", h)
	}
	if got := strings.Count(h, "<li>"); got != 21 {
		t.Errorf("NoteHTML has %d items, want 20 tickets and a remainder line", got)
	}
	one := outbox.NoteText(outbox.Note{Source: recontact.SourceZendesk, Window: 24 * time.Hour,
		Earlier: []outbox.EarlierTicket{{Source: recontact.SourceZendesk, TicketID: "1"}}})
	if !strings.Contains(one, "opened 1 other ticket within 1 day") {
		t.Errorf("NoteText singular: %q", one)
	}
}
