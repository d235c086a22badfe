package outbox

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/zendesk"
)

const (
	// zendeskConcurrency bounds the calls in flight; the limiter sets the pace,
	// this only lets a job-status wait overlap with other work.
	zendeskConcurrency = 4
	// maxUpdateMany is the most ids one update_many takes (docs/zendesk.md §5).
	maxUpdateMany = 100
	// Job statuses are polled from firstPoll, doubling up to maxPoll.
	firstPoll = 500 * time.Millisecond
	maxPoll   = 5 * time.Second
)

// zendesk writes a round's Zendesk tickets. Tickets that need the same
// change (the same tags to add and to remove) share update_many calls, the
// only form confirmed to honour additional_tags/remove_tags (§5); the rest,
// and any ticket a bulk job did not confirm, go through the Tags API one by
// one (PUT and DELETE /tickets/{id}/tags, which never touch other tags, §4).
// Notes follow, one ticket update each (§6).
func (w *Worker) zendesk(ctx, waitCtx context.Context, tasks []*task) {
	groups := map[string][]*task{}
	var keys []string
	for _, t := range tasks {
		// A ticket at its own limit (a flapping verdict) waits alone rather
		// than holding up a bulk call for a hundred others.
		if d := w.zl.ticketDelay(t.id); d > 0 {
			t.fail(&budgetError{"zendesk", d, "ticket update limit (30 per ticket per 10 minutes)"})
			continue
		}
		if len(t.add) == 0 && len(t.remove) == 0 {
			t.tagsDone = true
			continue
		}
		k := strings.Join(t.add, " ") + "|" + strings.Join(t.remove, " ")
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], t)
	}
	var units []func()
	for _, k := range keys {
		for chunk := range slices.Chunk(groups[k], maxUpdateMany) {
			if len(chunk) >= 2 { // one ticket alone is cheaper through the Tags API
				units = append(units, func() { w.zendeskMany(ctx, waitCtx, chunk) })
			}
		}
	}
	parallel(zendeskConcurrency, units)

	units = units[:0]
	for _, t := range tasks {
		if t.ok() && (!t.tagsDone || t.needNote) {
			units = append(units, func() { w.zendeskSingle(ctx, waitCtx, t) })
		}
	}
	parallel(zendeskConcurrency, units)
}

// zendeskMany applies one change to up to 100 tickets with update_many and
// follows the job to its end. Tickets the job did not confirm are left for
// zendeskSingle; a closed one is recorded as such.
func (w *Worker) zendeskMany(ctx, waitCtx context.Context, ts []*task) {
	add, remove := ts[0].add, ts[0].remove
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.id
	}
	failAll := func(err error) {
		for _, t := range ts {
			t.fail(err)
		}
	}
	if err := w.zl.Wait(waitCtx, true, ids...); err != nil {
		failAll(err)
		return
	}
	jobID, err := w.zd.UpdateManyTags(ctx, ids, add, remove)
	w.observe("zendesk", "update_many", err)
	if err != nil {
		// A refusal of the bulk form (too many jobs, one bad id) is left to the
		// Tags API ticket by ticket; a rate limit or an outage waits for the
		// queue, where the tickets can share a call again.
		if recontact.ErrorCode(err) == recontact.EUnavailable || isBudget(err) {
			failAll(err)
		}
		return
	}
	st, err := w.zendeskJob(ctx, waitCtx, jobID)
	if err != nil {
		// The job may still run; the change is idempotent, so a retry is safe.
		failAll(err)
		return
	}
	results := make(map[string]zendesk.JobResult, len(st.Results))
	for _, r := range st.Results {
		results[r.ID] = r
	}
	for _, t := range ts {
		r, ok := results[t.id]
		switch {
		case ok && r.Success:
			t.written = applied(t.written, add, remove)
			t.tagsDone = true
		case ok && closedText(r.Error+" "+r.Status):
			t.terminal = "ticket closed"
		}
		// Otherwise (failed, or missing from the results) the ticket is retried
		// on its own through the Tags API in this round.
	}
}

// zendeskJob polls a background job until it ends or the round's time is up.
func (w *Worker) zendeskJob(ctx, waitCtx context.Context, id string) (zendesk.JobStatus, error) {
	delay := firstPoll
	var last error
	for {
		if err := sleep(waitCtx, delay, &budgetError{"zendesk", delay, "job status wait"}); err != nil {
			return zendesk.JobStatus{}, errors.Join(err, last)
		}
		if err := w.zl.Wait(waitCtx, false); err != nil {
			return zendesk.JobStatus{}, errors.Join(err, last)
		}
		st, err := w.zd.JobStatus(ctx, id)
		w.observe("zendesk", "job_status", err)
		switch {
		case err == nil && st.Done():
			return st, nil
		case err != nil && recontact.ErrorCode(err) != recontact.EUnavailable:
			return zendesk.JobStatus{}, err // e.g. 404: the job is gone
		}
		last = err
		delay = min(delay*2, maxPoll)
	}
}

// zendeskSingle brings one ticket's tags up to date through the Tags API and
// writes its note.
func (w *Worker) zendeskSingle(ctx, waitCtx context.Context, t *task) {
	if !t.tagsDone {
		remove := t.remove
		if len(t.add) > 0 {
			var all []string
			if !w.zendeskCall(waitCtx, t, "tags_add", func() (err error) {
				all, err = w.zd.AddTags(ctx, t.id, t.add)
				return err
			}) {
				return
			}
			t.written = applied(t.written, t.add, nil)
			// The answer lists every tag: one of ours that should not be there
			// (an agent's copy, a write we did not record) goes in the same removal.
			for _, tag := range all {
				if w.tags.Managed(tag) && !slices.Contains(t.desired, tag) && !slices.Contains(remove, tag) {
					remove = append(slices.Clone(remove), tag)
				}
			}
		}
		if len(remove) > 0 {
			if !w.zendeskCall(waitCtx, t, "tags_remove", func() error {
				return w.zd.RemoveTags(ctx, t.id, remove)
			}) {
				return
			}
			t.written = applied(t.written, nil, remove)
		}
		t.tagsDone = true
	}
	if t.needNote && !t.noteWritten {
		n, err := w.note(ctx, t)
		if err != nil {
			t.fail(err)
			return
		}
		if !w.zendeskCall(waitCtx, t, "note", func() error {
			return w.zd.AddInternalNote(ctx, t.id, NoteText(n))
		}) {
			return
		}
		w.noteWritten(ctx, t)
	}
}

// zendeskCall waits for the budget, makes one ticket update and sorts its
// failure: closed and deleted tickets can never be written; the rest retry.
func (w *Worker) zendeskCall(waitCtx context.Context, t *task, kind string, call func() error) bool {
	if err := w.zl.Wait(waitCtx, true, t.id); err != nil {
		t.fail(err)
		return false
	}
	err := call()
	w.observe("zendesk", kind, err)
	switch {
	case err == nil:
		return true
	case errors.Is(err, zendesk.ErrClosed):
		t.terminal = "ticket closed"
	case recontact.ErrorCode(err) == recontact.ENotFound:
		t.terminal = "ticket not found"
	default:
		t.fail(err)
	}
	return false
}

// closedText matches Zendesk's refusal to update a closed ticket, by text as
// the connector does: the error key varies (§8).
func closedText(s string) bool {
	return strings.Contains(strings.ToLower(s), "closed prevents ticket update")
}

func isBudget(err error) bool {
	var b *budgetError
	return errors.As(err, &b)
}
