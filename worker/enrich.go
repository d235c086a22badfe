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
	Store   *store.Store
	Client  *zendesk.Client
	Limiter Limiter // optional: the account's limiter, shared with write-back
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
	if err := wait(ctx, z.Limiter); err != nil {
		return err
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
	if err := wait(ctx, z.Limiter); err != nil {
		return err
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
	if err := wait(ctx, z.Limiter); err != nil {
		return err
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
	if err := wait(ctx, z.Limiter); err != nil {
		return err
	}
	m, err := z.Client.TicketMetrics(ctx, j.Key)
	if err != nil {
		return apiErr(err)
	}
	return z.Store.SetCounts(ctx, recontact.SourceZendesk, j.Key, m.Replies, m.Reopens, m.SolvedAt)
}

// Limiter paces the calls to one helpdesk account (outbox.Limiter is one).
// Look-ups and write-back share it, so together they keep to their share of
// the account's budget. Wait fails with an error carrying RetryDelay when the
// budget has no room soon; the job is then rescheduled.
type Limiter interface {
	Wait(ctx context.Context, update bool, tickets ...string) error
}

// maxBudgetWait bounds how long a look-up holds a worker for the budget;
// past it the job goes back to the queue.
const maxBudgetWait = 30 * time.Second

// wait takes one read from l's budget; nil l does not limit.
func wait(ctx context.Context, l Limiter) error {
	if l == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, maxBudgetWait)
	defer cancel()
	return l.Wait(ctx, false)
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
