package worker

import (
	"context"
	"errors"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/store"
)

// Zendesk enriches what Zendesk webhooks leave out: requesters' e-mails,
// organisations' partner keys, tickets whose values were not recognisable,
// and reply/reopen counts once per resolution.
type Zendesk struct {
	Store  *store.Store
	Client *zendesk.Client
}

// Funcs registers the Zendesk enrichment jobs. Without API credentials the
// jobs are dropped: contacts keep what the webhooks said.
func (z *Zendesk) Funcs() map[string]Func {
	return map[string]Func{
		recontact.JobZendeskRequester: z.requester,
		recontact.JobZendeskOrg:       z.org,
		recontact.JobZendeskTicket:    z.ticket,
		recontact.JobZendeskMetrics:   z.metrics,
	}
}

func (z *Zendesk) requester(ctx context.Context, j *store.QueuedJob) error {
	if !z.Client.Configured() {
		return Drop(errNoAPI)
	}
	u, err := z.Client.User(ctx, j.Key)
	if err != nil {
		return apiErr(err)
	}
	return z.Store.SetRequester(ctx, recontact.SourceZendesk, j.Key, u.Email, u.OrganizationID)
}

func (z *Zendesk) org(ctx context.Context, j *store.QueuedJob) error {
	if !z.Client.Configured() {
		return Drop(errNoAPI)
	}
	o, err := z.Client.Organization(ctx, j.Key)
	if err != nil {
		return apiErr(err)
	}
	return z.Store.SetOrg(ctx, recontact.SourceZendesk, j.Key, partnerKey(o))
}

// partnerKey is the organisation's external id (what a booking system would
// share), else its name.
func partnerKey(o zendesk.Organization) string {
	if o.ExternalID != "" {
		return o.ExternalID
	}
	return o.Name
}

func (z *Zendesk) ticket(ctx context.Context, j *store.QueuedJob) error {
	if !z.Client.Configured() {
		return Drop(errNoAPI)
	}
	c, err := z.Client.Ticket(ctx, j.Key)
	if err != nil {
		return apiErr(err)
	}
	return z.Store.UpsertContact(ctx, c)
}

func (z *Zendesk) metrics(ctx context.Context, j *store.QueuedJob) error {
	if !z.Client.Configured() {
		return Drop(errNoAPI)
	}
	m, err := z.Client.TicketMetrics(ctx, j.Key)
	if err != nil {
		return apiErr(err)
	}
	return z.Store.SetCounts(ctx, recontact.SourceZendesk, j.Key, m.Replies, m.Reopens, m.SolvedAt)
}

var errNoAPI = errors.New("no API credentials for this helpdesk; keeping what the webhook said")

// apiErr sorts an API error: gone for good is dropped, a rate limit retries
// when the helpdesk says, anything else retries with backoff.
func apiErr(err error) error {
	var zr *zendesk.RateLimitError
	if errors.As(err, &zr) && zr.RetryAfter > 0 {
		return retryAt{err: err, after: zr.RetryAfter}
	}
	var fr *freshdesk.RateLimitError
	if errors.As(err, &fr) && fr.RetryAfter > 0 {
		return retryAt{err: err, after: fr.RetryAfter}
	}
	if codeIs(err, recontact.ENotFound) || codeIs(err, recontact.EInvalid) || codeIs(err, recontact.EConflict) {
		return Drop(err)
	}
	return err
}

type retryAt struct {
	err   error
	after time.Duration
}

func (r retryAt) Error() string             { return r.err.Error() }
func (r retryAt) Unwrap() error             { return r.err }
func (r retryAt) RetryDelay() time.Duration { return r.after }
