package outbox

import (
	"context"
	"errors"
	"slices"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/freshdesk"
)

// freshdeskConcurrency bounds the tickets in flight. Freshdesk's budget is
// small (25 calls a minute at the defaults), so the limiter sets the pace.
const freshdeskConcurrency = 4

// freshdesk writes a round's Freshdesk tickets one by one: Freshdesk has no
// add-only tag call and bulk_update's tag semantics are unconfirmed
// (freshdesk.md §3.3, §3.4), so each ticket is read, merged and written by
// the client's MergeTags, which reads again and repairs when a write landed
// after ours. Then the note (§4.2).
func (w *Worker) freshdesk(ctx, waitCtx context.Context, tasks []*task) {
	units := make([]func(), 0, len(tasks))
	for _, t := range tasks {
		units = append(units, func() { w.freshdeskTicket(ctx, waitCtx, t) })
	}
	parallel(freshdeskConcurrency, units)
}

func (w *Worker) freshdeskTicket(ctx, waitCtx context.Context, t *task) {
	// MergeTags starts with a read, which is also how a spam or deleted
	// ticket shows (§7): so it runs even when only the note is missing. As it
	// reads the whole list, it removes every tag of ours that should not be
	// there, not only those we wrote, at no extra cost.
	change := len(t.add) > 0 || len(t.remove) > 0
	remove := slices.DeleteFunc(w.tags.All(), func(tag string) bool { return slices.Contains(t.desired, tag) })
	calls, kind := 1, "read"
	if change {
		calls, kind = 3, "write" // GET, PUT, GET; a repair, rare, adds a PUT
	}
	if err := w.fl.waitN(waitCtx, calls, false, nil); err != nil {
		t.fail(err)
		return
	}
	_, err := w.fd.MergeTags(ctx, t.id, t.desired, remove)
	w.observe("freshdesk", kind, err)
	var tagErr error
	switch {
	case err == nil:
		t.written = slices.Clone(t.desired)
		t.tagsDone = true
	case errors.Is(err, freshdesk.ErrGone):
		t.terminal = recontact.ErrorMessage(err) // spam, deleted, 403/404/405
		return
	case recontact.ErrorCode(err) == recontact.EInvalid:
		// A validation refusal, e.g. a field required on closure (§7): it
		// will not pass on a retry, but the note may still go on.
		tagErr = err
	default:
		t.fail(err)
		return
	}
	if t.needNote && !t.noteWritten {
		n, err := w.note(ctx, t)
		if err != nil {
			t.fail(err)
			return
		}
		if err := w.fl.Wait(waitCtx, false); err != nil {
			t.fail(err)
			return
		}
		err = w.fd.AddPrivateNote(ctx, t.id, NoteHTML(n))
		w.observe("freshdesk", "note", err)
		switch {
		case err == nil:
			w.noteWritten(ctx, t)
		case errors.Is(err, freshdesk.ErrGone):
			t.terminal = recontact.ErrorMessage(err)
			return
		default:
			t.fail(err)
			return
		}
	}
	if tagErr != nil {
		t.fail(tagErr)
	}
}
