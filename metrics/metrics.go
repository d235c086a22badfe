// Package metrics defines the support-contact metrics of metrics.md in plain
// Go: the per-contact verdict (repeat, FCR, stage, followed by an order) and
// the rates over a period. It does no I/O; the store feeds it rows and keeps
// the results, and the aggregate SQL it needs at scale lives in the store.
package metrics

import (
	"time"

	"github.com/recontact/recontact"
)

// Settings are the windows and thresholds from the environment.
type Settings struct {
	RepeatWindow time.Duration // REPEAT_WINDOW, default 7 days
	FCRWindow    time.Duration // FCR_WINDOW, default 7 days
	OrderWindow  time.Duration // ORDER_WINDOW, default 7 days
	RatioLow     float64       // CONTACT_RATIO_LOW, default 0.05
	RatioHigh    float64       // CONTACT_RATIO_HIGH, default 0.15
}

// DefaultSettings are metrics.md's defaults.
func DefaultSettings() Settings {
	return Settings{
		RepeatWindow: 7 * 24 * time.Hour,
		FCRWindow:    7 * 24 * time.Hour,
		OrderWindow:  7 * 24 * time.Hour,
		RatioLow:     0.05,
		RatioHigh:    0.15,
	}
}

// FCR is a contact's first-contact-resolution state.
type FCR string

const (
	FCRPending FCR = "pending"
	FCRYes     FCR = "fcr"
	FCRNo      FCR = "not_fcr"
)

// Stage is where in the stay a contact happened; "" when no booking matches.
type Stage string

const (
	StageNone          Stage = ""
	StagePreCheckIn    Stage = "pre-check-in"
	StageInDestination Stage = "in-destination"
	StagePostCheckOut  Stage = "post-check-out"
)

// Contact is what evaluation needs of one ticket.
type Contact struct {
	Source     recontact.Source
	TicketID   string
	Partner    string
	Created    time.Time
	Resolved   time.Time // zero while unresolved
	Replies    int
	Reopens    int
	BookingRef string
}

// Ref names a ticket across helpdesks.
type Ref struct {
	Source   recontact.Source
	TicketID string
}

// Verdict is the evaluation of one contact.
type Verdict struct {
	Repeat          bool
	Previous        []Ref // the customer's contacts inside the repeat window before this one, oldest first
	FCR             FCR
	FCRFinal        bool // the FCR window has passed (or the outcome can no longer change)
	Stage           Stage
	FollowedByOrder bool
}
