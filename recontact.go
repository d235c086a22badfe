// Package recontact holds the domain types every other package shares: the
// normalised contact and booking, a webhook delivery, follow-up jobs and the
// error codes. It imports nothing from this module, so arrows point one way.
package recontact

import (
	"errors"
	"net/mail"
	"strings"
	"time"
)

// Source names where a delivery came from.
type Source string

const (
	SourceZendesk   Source = "zendesk"
	SourceFreshdesk Source = "freshdesk"
	SourceBookings  Source = "bookings"
)

// Helpdesks lists the sources whose records are contacts.
var Helpdesks = []Source{SourceZendesk, SourceFreshdesk}

// Valid reports whether s is a helpdesk source.
func (s Source) Valid() bool { return s == SourceZendesk || s == SourceFreshdesk }

// Status is a ticket status normalised across helpdesks.
type Status string

const (
	StatusNew     Status = "new"
	StatusOpen    Status = "open"
	StatusPending Status = "pending"
	StatusHold    Status = "hold"
	StatusSolved  Status = "solved"
	StatusClosed  Status = "closed"
	// StatusUnknown marks a value the connector could not map (for example a
	// localised display string); the store keeps the previous status and the
	// connector asks the API.
	StatusUnknown Status = ""
)

// Resolved reports whether the status counts as resolved (metrics.md: Zendesk
// solved/closed, Freshdesk 4/5).
func (s Status) Resolved() bool { return s == StatusSolved || s == StatusClosed }

// Contact is one helpdesk ticket in the one model.
type Contact struct {
	Source        Source
	TicketID      string
	CustomerEmail string // as received; only CustomerKey and a masked form leave the store
	RequesterID   string
	OrgID         string // helpdesk organisation/company id, looked up for Partner when Partner is ""
	Partner       string // partner key (organisation external id, else name/id); "" when none
	Channel       string
	Status        Status
	CreatedAt     time.Time
	UpdatedAt     time.Time // the source's updated_at: newer state wins
	ResolvedAt    time.Time // zero while unresolved
	Replies       int       // public agent replies
	Reopens       int
	BookingRef    string
	Tags          []string
}

// CustomerKey identifies the customer: the trimmed, lower-cased e-mail, or the
// requester id prefixed with the source when there is no e-mail (metrics.md).
func (c *Contact) CustomerKey() string { return CustomerKey(c.Source, c.CustomerEmail, c.RequesterID) }

// CustomerKey builds a customer key; see Contact.CustomerKey.
func CustomerKey(src Source, email, requesterID string) string {
	if e := NormaliseEmail(email); e != "" {
		return e
	}
	if requesterID != "" {
		return string(src) + ":" + requesterID
	}
	return ""
}

// NormaliseEmail trims and lower-cases an address, and returns "" for anything
// that is not a plain address (blank placeholders, display names, junk).
func NormaliseEmail(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || strings.ContainsAny(s, " <>\"") {
		return ""
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
		return ""
	}
	return s
}

// MaskEmail shows the first letter and the domain: a***@example.com. Keys that
// are not e-mails (zendesk:123) pass through: they name no person.
func MaskEmail(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return s
	}
	first := s[:1]
	return first + "***" + s[at:]
}

// Activity is what one event adds to a ticket's counters. Event deliveries are
// deduplicated, so adding is safe; the helpdesk API's own counts replace these
// when they are fetched at resolution.
type Activity struct {
	Replies int
	Reopens int
}

// Booking is one order from the booking system.
type Booking struct {
	ID            string
	Partner       string
	CustomerEmail string
	CustomerKey   string // derived from CustomerEmail by the connector
	CreatedAt     time.Time
	CheckIn       string // YYYY-MM-DD
	CheckOut      string // YYYY-MM-DD
	Status        string // as sent; BookingCancelled stops it counting
	UpdatedAt     time.Time
}

// BookingCancelled is the status of a booking that no longer counts.
const BookingCancelled = "cancelled"

// Cancelled reports whether the booking stopped counting.
func (b *Booking) Cancelled() bool { return b.Status == BookingCancelled }

// Job kinds run by the durable queue.
const (
	JobZendeskRequester = "zendesk.requester" // look up e-mail and organisation of a requester
	JobZendeskOrg       = "zendesk.org"       // look up an organisation's partner key
	JobZendeskTicket    = "zendesk.ticket"    // read a ticket whose webhook values could not be mapped
	JobZendeskMetrics   = "zendesk.metrics"   // read replies/reopens once per resolution
	JobFreshdeskTicket  = "freshdesk.ticket"  // read the ticket (stats, requester, conversations)
	JobWriteback        = "writeback"         // bring a ticket's tags and note up to date
	JobAlert            = "alert"             // post one alert message
	JobReconcile        = "reconcile"         // poll a helpdesk export for missed records
)

// Job is durable follow-up work. Jobs with the same Kind and Key coalesce while
// pending, so a burst of events for one ticket fetches it once.
type Job struct {
	Kind    string
	Key     string
	Payload []byte    // optional JSON
	RunAt   time.Time // zero: now
}

// Delivery is an authentic, parsed webhook ready to be committed.
type Delivery struct {
	Source Source
	// Key deduplicates retries: the sender's event or message id, or a digest of
	// the content where the sender's id is not known to be stable.
	Key string
	// DedupeWindow, when set, treats the same Key as new again once this long has
	// passed (senders that give no id and may legitimately repeat a body).
	DedupeWindow time.Duration
	ReceivedAt   time.Time
	Body         []byte // raw bytes, kept for replay
	Contact      *Contact
	Activity     Activity
	// ReportsActivity says the sender reports replies and reopens as events
	// (Zendesk event webhooks); otherwise a reopen is inferred from a solved
	// ticket's next snapshot being open.
	ReportsActivity bool
	Booking         *Booking
	Jobs            []Job
}

// Code says what kind of failure an error is; handlers alone map it to a status.
type Code string

const (
	EInvalid      Code = "invalid"      // unusable input; Message names the field
	EUnauthorized Code = "unauthorized" // missing, wrong or stale signature or token
	ENotFound     Code = "not_found"
	ETooLarge     Code = "too_large"
	EConflict     Code = "conflict"
	EUnavailable  Code = "unavailable" // store or upstream down: retry later
	EInternal     Code = "internal"    // a bug: details to the log, never to the caller
)

// Error is an error with a code and a message safe to show the caller.
type Error struct {
	Code    Code
	Message string
	Err     error // cause, for logs
}

func (e *Error) Error() string {
	if e.Err != nil {
		return string(e.Code) + ": " + e.Message + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a message.
func Errorf(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Wrap builds an *Error that keeps its cause for the logs.
func Wrap(code Code, msg string, err error) *Error { return &Error{Code: code, Message: msg, Err: err} }

// ErrorCode returns the code of the first *Error in err's chain, or EInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the caller-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "internal error"
}
