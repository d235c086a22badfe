package freshdesk

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/recontact/recontact"
)

// MaxListPage is the last page GET /api/v2/tickets serves (freshdesk.md §3.5:
// a 300-page cap). To read further, start a new window: page 1 with
// updated_since set to the UpdatedAt of the last ticket seen, and skip the
// ids already handled (the windows overlap by at least that second).
const MaxListPage = 300

// perPage is the API's maximum page size (freshdesk.md §2).
const perPage = 100

// maxConversationPages stops a runaway Link chain: 30,000 conversations on
// one ticket is far beyond any real one.
const maxConversationPages = 300

// Ticket is a ticket read from the API.
type Ticket struct {
	// Contact is the ticket in the one model. Partner is the company name,
	// which the include=company of a single-ticket read provides; ticket lists
	// cannot include companies (freshdesk.md §3.5), so there Partner is "" and
	// OrgID holds the company id to look up. Replies and Reopens are left
	// zero: see PublicAgentReplies and ReopenedAt.
	Contact *recontact.Contact
	Status  int // Freshdesk's own status id; custom statuses are ≥ 6
	Tags    []string
	Spam    bool
	Deleted bool
	// Stats timestamps (include=stats); zero when absent. Only resolved_at and
	// closed_at are documented; reopened_at is parsed if present
	// (freshdesk.md §3.2) and its absence proves nothing.
	ResolvedAt time.Time
	ClosedAt   time.Time
	ReopenedAt time.Time
}

// apiTicket is the ticket object (freshdesk.md §3.2). Only what we use is
// decoded; unknown fields are ignored.
type apiTicket struct {
	ID          id        `json:"id"`
	Status      int       `json:"status"`
	Source      *int      `json:"source"`
	RequesterID id        `json:"requester_id"`
	CompanyID   id        `json:"company_id"`
	Tags        []string  `json:"tags"`
	Spam        bool      `json:"spam"`
	Deleted     bool      `json:"deleted"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Requester   *struct {
		Email string `json:"email"`
	} `json:"requester"`
	Company *struct {
		Name string `json:"name"`
	} `json:"company"`
	// Stats values are read one by one so that an undocumented key in an
	// unexpected shape cannot fail the whole ticket.
	Stats map[string]json.RawMessage `json:"stats"`
}

func (a *apiTicket) ticket() *Ticket {
	t := &Ticket{
		Status:     a.Status,
		Tags:       nonNil(a.Tags),
		Spam:       a.Spam,
		Deleted:    a.Deleted,
		ResolvedAt: a.stat("resolved_at"),
		ClosedAt:   a.stat("closed_at"),
		ReopenedAt: a.stat("reopened_at"),
	}
	c := &recontact.Contact{
		Source:      recontact.SourceFreshdesk,
		TicketID:    string(a.ID),
		RequesterID: string(a.RequesterID),
		OrgID:       string(a.CompanyID),
		Status:      apiStatus(a.Status),
		CreatedAt:   a.CreatedAt.UTC(),
		UpdatedAt:   a.UpdatedAt.UTC(),
		Tags:        slices.Clone(t.Tags),
	}
	if a.Source != nil {
		c.Channel = channel(*a.Source)
	}
	if a.Requester != nil {
		c.CustomerEmail = a.Requester.Email
	}
	if a.Company != nil {
		c.Partner = a.Company.Name
	}
	if c.Status.Resolved() {
		// Resolution time: resolved_at, else closed_at (closed without passing
		// through Resolved). Without stats, updated_at is the best bound we
		// have; a resolved ticket must not look unresolved.
		switch {
		case !t.ResolvedAt.IsZero():
			c.ResolvedAt = t.ResolvedAt
		case !t.ClosedAt.IsZero():
			c.ResolvedAt = t.ClosedAt
		default:
			c.ResolvedAt = c.UpdatedAt
		}
	}
	t.Contact = c
	return t
}

func (a *apiTicket) stat(key string) time.Time {
	var s string
	if json.Unmarshal(a.Stats[key], &s) != nil {
		return time.Time{}
	}
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return ts.UTC()
}

// Ticket reads a ticket with its stats, requester and company. The three
// includes cost 2 credits each on top of the read's 1 (freshdesk.md §3.2).
// Spam and deleted tickets are returned with their flags set; a 403/404/405
// is an ErrGone error.
func (c *Client) Ticket(ctx context.Context, ticketID string) (*Ticket, error) {
	return c.getTicket(ctx, ticketID, "stats,requester,company")
}

func (c *Client) getTicket(ctx context.Context, ticketID, include string) (*Ticket, error) {
	if !validID(ticketID) {
		return nil, invalidID(ticketID)
	}
	var q url.Values
	if include != "" {
		q = url.Values{"include": {include}}
	}
	var a apiTicket
	if _, err := c.do(ctx, request{method: http.MethodGet, url: c.endpoint("/api/v2/tickets/"+ticketID, q), out: &a}); err != nil {
		return nil, err
	}
	return a.ticket(), nil
}

// PublicAgentReplies counts the ticket's public agent replies, the one-touch
// rule's input: conversations with source 0 (reply), not incoming, not
// private, and not written by the requester (freshdesk.md §4.1). Public notes
// (source 2) are not counted.
func (c *Client) PublicAgentReplies(ctx context.Context, ticketID, requesterID string) (int, error) {
	if !validID(ticketID) {
		return 0, invalidID(ticketID)
	}
	next := c.endpoint("/api/v2/tickets/"+ticketID+"/conversations", url.Values{
		"per_page": {strconv.Itoa(perPage)},
		"page":     {"1"},
	})
	replies := 0
	for page := 1; ; page++ {
		if page > maxConversationPages {
			return 0, recontact.Errorf(recontact.EUnavailable,
				fmt.Sprintf("freshdesk ticket %s: more than %d pages of conversations", ticketID, maxConversationPages))
		}
		var convs []struct {
			Source   int  `json:"source"`
			Incoming bool `json:"incoming"`
			Private  bool `json:"private"`
			UserID   id   `json:"user_id"`
		}
		h, err := c.do(ctx, request{method: http.MethodGet, url: next, out: &convs})
		if err != nil {
			return 0, err
		}
		for _, cv := range convs {
			if cv.Source == 0 && !cv.Incoming && !cv.Private && (requesterID == "" || string(cv.UserID) != requesterID) {
				replies++
			}
		}
		// Freshdesk sends a Link header only when a next page exists
		// (freshdesk.md §2).
		link, ok, err := c.nextLink(h, next)
		if err != nil || !ok {
			return replies, err
		}
		next = link
	}
}

// SetTags replaces the ticket's whole tag list (freshdesk.md §3.3: tags on
// PUT are not merged) and returns the list Freshdesk stored. Use MergeTags to
// change only some tags.
func (c *Client) SetTags(ctx context.Context, ticketID string, tags []string) ([]string, error) {
	if !validID(ticketID) {
		return nil, invalidID(ticketID)
	}
	var a apiTicket
	body := map[string][]string{"tags": nonNil(tags)} // [] clears; null might not
	if _, err := c.do(ctx, request{method: http.MethodPut, url: c.endpoint("/api/v2/tickets/"+ticketID, nil), body: body, out: &a}); err != nil {
		return nil, err
	}
	return nonNil(a.Tags), nil
}

// MergeTags adds and removes tags and keeps every other tag: GET, union with
// add minus remove, PUT (skipped when nothing changes), then GET again. Spam
// and deleted tickets are not written (an ErrGone error, freshdesk.md §7).
//
// Freshdesk has no optimistic concurrency (freshdesk.md §3.3), so a foreign
// write can race ours. The re-read catches the race we can see: a write that
// lands after our PUT from a stale view drops our tags, or changes the list
// in any way; then we merge once more from what is stored, keeping the
// foreign tags. A foreign tag written between our GET and our PUT is
// overwritten by our PUT and no read can see it afterwards; keeping GET and
// PUT back to back is the only defence until Freshdesk offers a guard.
func (c *Client) MergeTags(ctx context.Context, ticketID string, add, remove []string) ([]string, error) {
	cur, err := c.getTicket(ctx, ticketID, "")
	if err != nil {
		return nil, err
	}
	switch {
	case cur.Deleted:
		return nil, gone(ticketID, "deleted")
	case cur.Spam:
		return nil, gone(ticketID, "spam")
	}
	want := mergeTags(cur.Tags, add, remove)
	if sameTags(want, cur.Tags) {
		return cur.Tags, nil
	}
	wrote, err := c.SetTags(ctx, ticketID, want)
	if err != nil {
		return nil, err
	}
	after, err := c.getTicket(ctx, ticketID, "")
	if err != nil {
		return nil, err
	}
	if sameTags(after.Tags, wrote) {
		return after.Tags, nil
	}
	// Someone wrote after us. Repair once, from what is stored now.
	want = mergeTags(after.Tags, add, remove)
	if sameTags(want, after.Tags) {
		return after.Tags, nil
	}
	return c.SetTags(ctx, ticketID, want)
}

// mergeTags returns (cur ∪ add) − remove, keeping cur's order and appending
// new tags. Tags compare exactly: Freshdesk's case rules are not documented,
// and recontact's own tags are lower-case.
func mergeTags(cur, add, remove []string) []string {
	out := make([]string, 0, len(cur)+len(add))
	for _, t := range slices.Concat(cur, add) {
		if !slices.Contains(remove, t) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func sameTags(a, b []string) bool {
	for _, t := range a {
		if !slices.Contains(b, t) {
			return false
		}
	}
	for _, t := range b {
		if !slices.Contains(a, t) {
			return false
		}
	}
	return true
}

// AddPrivateNote adds an agent-only note. private defaults to true but is sent
// anyway (freshdesk.md §4.2). A note is not idempotent, so a timeout or 5xx
// is not retried here: the caller's job retries, accepting that a note may
// then appear twice rather than never.
func (c *Client) AddPrivateNote(ctx context.Context, ticketID, htmlBody string) error {
	if !validID(ticketID) {
		return invalidID(ticketID)
	}
	if htmlBody == "" {
		return recontact.Errorf(recontact.EInvalid, "freshdesk note body is empty")
	}
	body := map[string]any{"body": htmlBody, "private": true}
	_, err := c.do(ctx, request{method: http.MethodPost, url: c.endpoint("/api/v2/tickets/"+ticketID+"/notes", nil), body: body, unsafe: true})
	return err
}

// ListUpdatedSince reads one page (from 1) of tickets updated at or after
// since, oldest update first, with stats and requester (3 + 2 credits per
// call). hasNext reports that Freshdesk has another page. At MaxListPage the
// caller must start a new window instead of asking for the next page; see
// MaxListPage. Spam and deleted tickets are not listed (freshdesk.md §3.5).
func (c *Client) ListUpdatedSince(ctx context.Context, since time.Time, page int) (tickets []*Ticket, hasNext bool, err error) {
	switch {
	case since.IsZero():
		// Without updated_since Freshdesk lists only the last 30 days.
		return nil, false, recontact.Errorf(recontact.EInvalid, "freshdesk list: since is zero")
	case page < 1:
		return nil, false, recontact.Errorf(recontact.EInvalid, fmt.Sprintf("freshdesk list: page %d, want 1 or more", page))
	case page > MaxListPage:
		return nil, false, recontact.Errorf(recontact.EInvalid,
			fmt.Sprintf("freshdesk list: page %d is past the %d-page cap; restart at page 1 from the last updated_at", page, MaxListPage))
	}
	u := c.endpoint("/api/v2/tickets", url.Values{
		"updated_since": {since.UTC().Format("2006-01-02T15:04:05Z")},
		"order_by":      {"updated_at"},
		"order_type":    {"asc"},
		"per_page":      {strconv.Itoa(perPage)},
		"page":          {strconv.Itoa(page)},
		"include":       {"stats,requester"},
	})
	var list []apiTicket
	h, err := c.do(ctx, request{method: http.MethodGet, url: u, out: &list})
	if err != nil {
		return nil, false, err
	}
	tickets = make([]*Ticket, len(list))
	for i := range list {
		tickets[i] = list[i].ticket()
	}
	_, hasNext, err = c.nextLink(h, u)
	return tickets, hasNext, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
