package worker

import (
	"context"
	"errors"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/store"
)

// Freshdesk reads each ticket a webhook named: the webhook is only a trigger,
// the API has the timestamps, numeric status and source. Public agent replies
// are counted from the conversations once the ticket is resolved.
type Freshdesk struct {
	Store   *store.Store
	Client  *freshdesk.Client
	Limiter Limiter // optional: the account's limiter, shared with write-back
}

// Funcs registers the Freshdesk jobs.
func (f *Freshdesk) Funcs() map[string]Func {
	return map[string]Func{recontact.JobFreshdeskTicket: f.ticket}
}

func (f *Freshdesk) ticket(ctx context.Context, j *store.QueuedJob) error {
	if !f.Client.Configured() {
		return Drop(errNoAPI)
	}
	if err := wait(ctx, f.Limiter); err != nil {
		return err
	}
	t, err := f.Client.Ticket(ctx, j.Key)
	if err != nil {
		return apiErr(err)
	}
	if t.Spam || t.Deleted {
		return Drop(errors.New("ticket is spam or deleted; not counted"))
	}
	if err := f.Store.UpsertContact(ctx, t.Contact); err != nil {
		return err
	}
	if !t.Contact.Status.Resolved() {
		return nil
	}
	if err := wait(ctx, f.Limiter); err != nil {
		return err
	}
	replies, err := f.Client.PublicAgentReplies(ctx, j.Key, t.Contact.RequesterID)
	if err != nil {
		return apiErr(err)
	}
	stored, err := f.Store.Contact(ctx, recontact.SourceFreshdesk, j.Key)
	if err != nil {
		return err
	}
	reopens := stored.Reopens
	if reopens == 0 && !t.ReopenedAt.IsZero() {
		reopens = 1 // stats.reopened_at is unconfirmed; when present it proves one
	}
	return f.Store.SetCounts(ctx, recontact.SourceFreshdesk, j.Key, replies, reopens, t.Contact.ResolvedAt)
}
