package outbox

import (
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/recontact/recontact"
)

// maxNoteTickets caps the list in a note; a customer who wrote fifty times in
// a week gets the newest ones and a count of the rest.
const maxNoteTickets = 20

// Note is what the repeat-contact note says. It names tickets, never the
// customer: the agent sees the requester on the ticket, and a note must not
// copy an e-mail address into the helpdesk's comment history.
type Note struct {
	Source  recontact.Source // the helpdesk the note is written to
	Window  time.Duration    // the repeat window
	Earlier []EarlierTicket  // oldest first, as the evaluation lists them
}

// EarlierTicket is one of the customer's tickets inside the window.
type EarlierTicket struct {
	Source    recontact.Source
	TicketID  string
	Status    recontact.Status // StatusUnknown when recontact no longer has it
	CreatedAt time.Time        // zero when unknown
}

// lines renders the note as a heading and one line per ticket, unescaped.
func (n Note) lines() (string, []string) {
	head := fmt.Sprintf("recontact: repeat contact. The customer opened %s within %s before this one:",
		plural(len(n.Earlier), "other ticket"), window(n.Window))
	list := n.Earlier
	more := 0
	if len(list) > maxNoteTickets {
		more = len(list) - maxNoteTickets
		list = list[more:] // keep the newest
	}
	var out []string
	for _, e := range list {
		name := "#" + e.TicketID
		if e.Source != n.Source {
			name = helpdeskName(e.Source) + " #" + e.TicketID
		}
		status := string(e.Status)
		if status == "" {
			status = "status unknown"
		}
		line := name + " (" + status
		if !e.CreatedAt.IsZero() {
			line += ", opened " + e.CreatedAt.UTC().Format("2006-01-02 15:04") + " UTC"
		}
		out = append(out, line+")")
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("and %d older", more))
	}
	return head, out
}

// NoteText is the note as plain text, for a Zendesk comment body (HTML in
// body is stripped there, §6).
func NoteText(n Note) string {
	head, lines := n.lines()
	var b strings.Builder
	b.WriteString(head)
	for _, l := range lines {
		b.WriteString("\n- ")
		b.WriteString(l)
	}
	return b.String()
}

// NoteHTML is the note as HTML, for a Freshdesk note body (§4.2). Every value
// is escaped.
func NoteHTML(n Note) string {
	head, lines := n.lines()
	var b strings.Builder
	b.WriteString("<p>")
	b.WriteString(html.EscapeString(head))
	b.WriteString("</p><ul>")
	for _, l := range lines {
		b.WriteString("<li>")
		b.WriteString(html.EscapeString(l))
		b.WriteString("</li>")
	}
	b.WriteString("</ul>")
	return b.String()
}

func helpdeskName(s recontact.Source) string {
	switch s {
	case recontact.SourceZendesk:
		return "Zendesk"
	case recontact.SourceFreshdesk:
		return "Freshdesk"
	}
	return string(s)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// window renders a duration in whole days or hours where it is one.
func window(d time.Duration) string {
	switch {
	case d <= 0:
		return "the repeat window"
	case d%(24*time.Hour) == 0:
		return plural(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return plural(int(d/time.Hour), "hour")
	}
	return d.String()
}
