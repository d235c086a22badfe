package freshdesk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/recontact/recontact"
)

// Freshdesk's built-in status ids (freshdesk.md §3.1). Accounts add custom
// statuses with ids from 6 up; the ticket carries only the number.
const (
	statusOpen     = 2
	statusPending  = 3
	statusResolved = 4
	statusClosed   = 5
)

// apiStatus maps a status id read from the API. Custom statuses (≥ 6) are not
// resolved (metrics.md counts only 4 and 5), and the nearest of our statuses
// for "waiting on someone" is pending.
func apiStatus(n int) recontact.Status {
	switch {
	case n == statusOpen:
		return recontact.StatusOpen
	case n == statusPending:
		return recontact.StatusPending
	case n == statusResolved:
		return recontact.StatusSolved
	case n == statusClosed:
		return recontact.StatusClosed
	case n > statusClosed:
		return recontact.StatusPending
	}
	return recontact.StatusUnknown
}

// webhookStatus maps a status the webhook rendered: {{ticket.status}} is the
// display name (freshdesk.md §1.2), or a number if the admin sent one. Custom
// and localised names stay StatusUnknown: the store keeps what it has and the
// ticket job asks the API.
func webhookStatus(s string) recontact.Status {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n > statusClosed {
			return recontact.StatusUnknown
		}
		return apiStatus(n)
	}
	switch strings.ToLower(s) {
	case "open":
		return recontact.StatusOpen
	case "pending":
		return recontact.StatusPending
	case "resolved":
		return recontact.StatusSolved
	case "closed":
		return recontact.StatusClosed
	}
	return recontact.StatusUnknown
}

// channels names the documented ticket source ids (freshdesk.md §3.1).
var channels = map[int]string{
	1:  "email",
	2:  "portal",
	3:  "phone",
	7:  "chat",
	9:  "feedback_widget",
	10: "outbound_email",
}

// channel names a source id. Other ids exist (social, bots, WhatsApp; the list
// is unconfirmed), so unknown ones keep their number rather than failing.
func channel(n int) string {
	if c, ok := channels[n]; ok {
		return c
	}
	return "source_" + strconv.Itoa(n)
}

// webhookChannel reads a source the webhook sent: a number, or a name such
// as "Email" or "Feedback Widget" ({{ticket.source}}'s text is unconfirmed,
// freshdesk.md §1.2), normalised to the API names' form.
func webhookChannel(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if n, err := strconv.Atoi(s); err == nil {
		return channel(n)
	}
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_'
	}), "_")
}

// id is a Freshdesk id: a JSON number in the API, and a number or a string in
// webhook bodies (the admin may quote {{ticket.id}}, freshdesk.md §1.2). It
// holds canonical decimal digits, or "" for null, absent or 0 (no id; ids
// start at 1). Anything else that is not a whole number is an error.
type id string

func (v *id) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*v = ""
		return nil
	}
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		*v = ""
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("want a whole number, got %.40q", s)
	}
	*v = ""
	if n > 0 {
		*v = id(strconv.FormatUint(n, 10))
	}
	return nil
}

// validID guards ids we put into URL paths.
func validID(s string) bool {
	n, err := strconv.ParseUint(s, 10, 64)
	return err == nil && n > 0 && strconv.FormatUint(n, 10) == s
}
