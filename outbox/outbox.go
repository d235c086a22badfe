// Package outbox writes recontact's verdicts back onto helpdesk tickets: the
// tags the current evaluation implies and, on a repeat contact, one internal
// note listing the customer's earlier tickets.
//
// The work comes from the store's durable queue: the evaluator queues a
// recontact.JobWriteback job, keyed "<source>:<ticket_id>", in the same
// transaction that changed the verdict (store.Options.Writeback turns that
// on per helpdesk). A Worker claims those jobs in batches, works out for each
// ticket the difference between the tags it should carry and the tags
// recontact last wrote (store.StoredContact.TagsWritten), sends only that
// difference, and records the result with store.MarkWritten. Zendesk tickets
// that need the same change share one update_many call. Every call waits for
// the helpdesk's Limiter, which keeps write-back inside its share of the
// account's budgets.
//
// Safety: a job is completed only after its result is recorded, so a crash
// at any point leaves it in the queue, and its lease running out hands it to
// the next worker (PostgreSQL's SKIP LOCKED lets several instances claim side
// by side). Tag changes are idempotent, so doing one twice after a crash is
// harmless; the note is recorded the moment it is written.
package outbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/worker"
)

// Modes of write-back (WRITEBACK). "off" never builds a Worker.
const (
	ModeOn     = "on"
	ModeDryRun = "dry-run"
)

// Defaults for Config's zero values.
const (
	DefaultZendeskUpdatesPerMinute    = 100 // Zendesk: ticket updates per minute per account (§9)
	DefaultZendeskRequestsPerMinute   = 200 // Zendesk: Team plan's requests per minute (§9)
	DefaultFreshdeskRequestsPerMinute = 50  // Freshdesk: the smallest plan's requests per minute (§5)
	DefaultShare                      = 0.5 // write-back's part of each budget
	DefaultMaxAttempts                = 10
	DefaultBatch                      = 100 // jobs per claim; also update_many's most ids (§5)
	DefaultPoll                       = time.Second
	// staleRecheck is how soon a job waiting for its contact's evaluation
	// looks again; the evaluator runs right behind ingest.
	staleRecheck = 250 * time.Millisecond
	// DefaultLease is how long a claimed job is ours. A crashed worker's jobs
	// return to the queue after it. No call starts in its last quarter, and
	// none runs past its end, so another worker never takes a job while a
	// call for it is in flight. Keep the clients' timeouts well under a
	// quarter of it (zendesk's default is 10 s, freshdesk's 30 s).
	DefaultLease = 2 * time.Minute
	// DefaultConcurrency is how many rounds run at once: while one waits for
	// Zendesk's background jobs, the next claims and sends.
	DefaultConcurrency = 4
)

// Observer counts the API calls write-back makes, for operators (e.g. a
// Prometheus counter vector). helpdesk is "zendesk" or "freshdesk"; kind is
// tags_add, tags_remove, update_many, job_status, note, read or write; status
// is the HTTP status where the answer gave one, 0 when there was no usable
// answer (timeout, connection error, 5xx without detail).
type Observer interface {
	Call(helpdesk, kind string, status int)
}

// Config configures a Worker. Store and at least one configured client are
// required; zero numbers take the defaults above.
type Config struct {
	Store     *store.Store
	Zendesk   *zendesk.Client   // nil or not Configured: Zendesk jobs fail with a reason
	Freshdesk *freshdesk.Client // likewise
	Tags      TagNames
	Note      bool   // REPEAT_NOTE: write the repeat-contact note
	Mode      string // ModeOn ("" too) or ModeDryRun

	ZendeskUpdatesPerMinute    int     // ZENDESK_UPDATES_PER_MINUTE
	ZendeskRequestsPerMinute   int     // ZENDESK_REQUESTS_PER_MINUTE
	FreshdeskRequestsPerMinute int     // FRESHDESK_REQUESTS_PER_MINUTE
	Share                      float64 // WRITEBACK_BUDGET_SHARE, in (0, 1]
	MaxAttempts                int     // WRITEBACK_MAX_ATTEMPTS: then the dead letter

	// ZendeskLimiter and FreshdeskLimiter, when set, are used instead of
	// limiters built from the numbers above. Build them first and pass their
	// ObserveZendesk/ObserveFreshdesk as the clients' OnRate, so that the
	// headers of every call to the account slow write-back down.
	ZendeskLimiter, FreshdeskLimiter *Limiter

	Observer Observer // optional
	Logger   *slog.Logger
	Now      func() time.Time

	Lease       time.Duration // 0: DefaultLease
	Poll        time.Duration // how often Run looks for due jobs; 0: DefaultPoll
	Batch       int           // most jobs per claim, at most 100; 0: DefaultBatch
	Concurrency int           // rounds at once in Run; 0: DefaultConcurrency
}

// Worker runs write-back jobs. It is safe for concurrent use; Run one per
// process (several processes may share a PostgreSQL store).
type Worker struct {
	cfg   Config
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
	tags  TagNames
	dry   bool

	zd *zendesk.Client
	zl *Limiter
	fd *freshdesk.Client
	fl *Limiter

	costMu sync.Mutex
	costs  map[*Limiter]*cost

	wake chan struct{}
}

// cost learns how many calls of each budget a claimed job takes, so that a
// claim asks for no more jobs than the budget can serve inside the lease: a
// re-tag where 100 tickets share one update_many claims 100 at a time, a
// stream of tickets that each need their own calls far fewer.
type cost struct {
	jobs  float64
	spent [2]float64 // requests, updates; decayed like jobs
	seen  [2]float64 // the limiter's usage at the last look
}

// perJob is the calls per job; one until there is history.
func (c *cost) perJob(i int) float64 {
	if c.jobs < 1 {
		return 1
	}
	return max(c.spent[i]/c.jobs, 0.001)
}

// New checks cfg and builds a Worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Store == nil {
		return nil, errors.New("outbox: Config.Store is required")
	}
	switch cfg.Mode {
	case "", ModeOn, ModeDryRun:
	case "off":
		return nil, errors.New("outbox: write-back is off: build no Worker, and leave store.Options.Writeback unset")
	default:
		return nil, fmt.Errorf("outbox: mode must be %s or %s, got %q", ModeOn, ModeDryRun, cfg.Mode)
	}
	if err := cfg.Tags.Validate(); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if cfg.Share < 0 || cfg.Share > 1 {
		return nil, fmt.Errorf("outbox: budget share must be in (0, 1], got %g", cfg.Share)
	}
	cfg.Share = cmp.Or(cfg.Share, DefaultShare)
	cfg.ZendeskUpdatesPerMinute = cmp.Or(cfg.ZendeskUpdatesPerMinute, DefaultZendeskUpdatesPerMinute)
	cfg.ZendeskRequestsPerMinute = cmp.Or(cfg.ZendeskRequestsPerMinute, DefaultZendeskRequestsPerMinute)
	cfg.FreshdeskRequestsPerMinute = cmp.Or(cfg.FreshdeskRequestsPerMinute, DefaultFreshdeskRequestsPerMinute)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.Poll = cmp.Or(cfg.Poll, DefaultPoll)
	cfg.Batch = min(cmp.Or(cfg.Batch, DefaultBatch), DefaultBatch)
	cfg.Lease = cmp.Or(cfg.Lease, DefaultLease)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	w := &Worker{
		cfg:   cfg,
		store: cfg.Store,
		log:   cfg.Logger,
		now:   cfg.Now,
		tags:  cfg.Tags.orDefaults(),
		dry:   cfg.Mode == ModeDryRun,
		wake:  make(chan struct{}, 1),
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	if cfg.Zendesk.Configured() {
		w.zd = cfg.Zendesk
		w.zl = cfg.ZendeskLimiter
		if w.zl == nil {
			w.zl = NewZendeskLimiter(cfg.ZendeskRequestsPerMinute, cfg.ZendeskUpdatesPerMinute, cfg.Share)
		}
	}
	if cfg.Freshdesk.Configured() {
		w.fd = cfg.Freshdesk
		w.fl = cfg.FreshdeskLimiter
		if w.fl == nil {
			w.fl = NewFreshdeskLimiter(cfg.FreshdeskRequestsPerMinute, cfg.Share)
		}
	}
	if w.zd == nil && w.fd == nil {
		return nil, errors.New("outbox: no helpdesk client is configured")
	}
	return w, nil
}

// ZendeskLimiter is the limiter Zendesk calls wait for (nil without Zendesk).
func (w *Worker) ZendeskLimiter() *Limiter { return w.zl }

// FreshdeskLimiter is the limiter Freshdesk calls wait for (nil without
// Freshdesk).
func (w *Worker) FreshdeskLimiter() *Limiter { return w.fl }

// Wake asks Run to look for jobs now rather than at the next poll; call it
// after an evaluation queued write-backs.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends, with Concurrency rounds at once.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range w.cfg.Concurrency {
		wg.Go(func() { w.loop(ctx) })
	}
	wg.Wait()
}

func (w *Worker) loop(ctx context.Context) {
	for ctx.Err() == nil {
		// While a helpdesk has told us to stop (429), claiming would only
		// spend the jobs' attempts on rescheduling them.
		if p := w.paused(); p > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(p):
			}
			continue
		}
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Warn("writeback round", slog.Any("err", err))
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-time.After(w.cfg.Poll):
		}
	}
}

func (w *Worker) paused() time.Duration {
	var p time.Duration
	for _, l := range w.limiters() {
		p = max(p, l.PausedFor())
	}
	return p
}

func (w *Worker) limiters() []*Limiter {
	var out []*Limiter
	if w.zl != nil {
		out = append(out, w.zl)
	}
	if w.fl != nil {
		out = append(out, w.fl)
	}
	return out
}

// task is the write-back of one ticket in a round.
type task struct {
	jobs []*store.QueuedJob // usually one; two when an expired lease and a fresh job meet
	src  recontact.Source
	id   string
	c    *store.StoredContact

	desired, add, remove []string
	needNote             bool

	// progress
	written     []string // what the ticket carries of ours, as far as we know
	tagsDone    bool
	noteWritten bool
	err         error  // the first failure; the jobs are retried
	terminal    string // why the ticket can never be written (closed, deleted)
	provisional bool   // the contact is a Freshdesk webhook's, not yet read from the API
	stale       bool   // the contact changed after its last evaluation
}

func (t *task) attempts() int {
	n := 0
	for _, j := range t.jobs {
		n = max(n, j.Attempts)
	}
	return n
}

// fail records the first failure of a task.
func (t *task) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}

func (t *task) ok() bool { return t.err == nil && t.terminal == "" }

// RunOnce claims one batch of due jobs, writes them back and records the
// outcome of each. It reports how many jobs it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	lease := w.cfg.Lease
	usable := lease - lease/4
	start := time.Now()
	jobs, err := w.store.Claim(ctx, []string{recontact.JobWriteback}, w.claimSize(usable), lease)
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	defer w.learn(len(jobs))
	// No call starts in the last quarter of the lease: waiting for the budget
	// past that point reschedules the job instead. And no call outlives the
	// lease, whatever the clients' timeouts, so a job is never worked on by
	// two workers at once.
	callCtx, cancelCalls := context.WithDeadline(ctx, start.Add(lease-lease/20))
	defer cancelCalls()
	waitCtx, cancel := context.WithDeadline(callCtx, start.Add(usable))
	defer cancel()

	tasks, err := w.prepare(ctx, jobs)
	if err != nil {
		return len(jobs), err
	}
	var zd, fd []*task
	for _, t := range tasks {
		switch {
		case !t.ok(), t.provisional, t.stale:
		case len(t.add) == 0 && len(t.remove) == 0 && !t.needNote:
			// Nothing to send: the echo of our own write ends here.
			t.tagsDone = true
		case w.dry:
		case t.src == recontact.SourceZendesk && w.zd != nil:
			zd = append(zd, t)
		case t.src == recontact.SourceFreshdesk && w.fd != nil:
			fd = append(fd, t)
		default:
			t.terminal = string(t.src) + " write-back is not configured"
		}
	}
	// The helpdesks have budgets of their own: work on both at once.
	var wg sync.WaitGroup
	if len(zd) > 0 {
		wg.Go(func() { w.zendesk(callCtx, waitCtx, zd) })
	}
	if len(fd) > 0 {
		wg.Go(func() { w.freshdesk(callCtx, waitCtx, fd) })
	}
	wg.Wait()
	// Outcomes are recorded even when ctx ended meanwhile (shutdown): a note
	// that was written must not be written again after the restart.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer rcancel()
	var errs []error
	for _, t := range tasks {
		if err := w.finish(rctx, t); err != nil {
			errs = append(errs, err)
		}
	}
	return len(jobs), errors.Join(errs...)
}

// claimSize is how many jobs the budgets can serve within d, at the calls
// per job seen lately, between 1 and Batch.
func (w *Worker) claimSize(d time.Duration) int {
	n := float64(w.cfg.Batch)
	w.costMu.Lock()
	defer w.costMu.Unlock()
	for _, l := range w.limiters() {
		c := w.cost(l)
		capacity := l.capacity(d)
		for i := range capacity {
			n = min(n, capacity[i]/c.perJob(i))
		}
	}
	return max(1, int(n))
}

// learn folds the calls made since the last look into the cost per job.
// Rounds overlap, so a round's calls are not told apart: over many rounds
// the ratio is what matters.
func (w *Worker) learn(jobs int) {
	w.costMu.Lock()
	defer w.costMu.Unlock()
	for _, l := range w.limiters() {
		c := w.cost(l)
		used := l.usage()
		c.jobs = c.jobs*0.8 + float64(jobs)
		for i := range used {
			c.spent[i] = c.spent[i]*0.8 + used[i] - c.seen[i]
			c.seen[i] = used[i]
		}
	}
}

func (w *Worker) cost(l *Limiter) *cost {
	if w.costs == nil {
		w.costs = map[*Limiter]*cost{}
	}
	c := w.costs[l]
	if c == nil {
		c = &cost{seen: l.usage()}
		w.costs[l] = c
	}
	return c
}

// prepare reads each job's contact and works out what its ticket needs.
func (w *Worker) prepare(ctx context.Context, jobs []store.QueuedJob) ([]*task, error) {
	byKey := map[string]*task{}
	var tasks []*task
	for i := range jobs {
		j := &jobs[i]
		if t := byKey[j.Key]; t != nil {
			t.jobs = append(t.jobs, j)
			continue
		}
		src, id, _ := strings.Cut(j.Key, ":")
		t := &task{jobs: []*store.QueuedJob{j}, src: recontact.Source(src), id: id}
		byKey[j.Key] = t
		tasks = append(tasks, t)
		if !t.src.Valid() || id == "" {
			t.terminal = "invalid job key " + j.Key
			continue
		}
		c, err := w.store.Contact(ctx, t.src, id)
		if recontact.ErrorCode(err) == recontact.ENotFound {
			t.terminal = "contact not found"
			continue
		}
		if err != nil {
			// The store is down: the claim's lease will hand the jobs back.
			return nil, err
		}
		t.c = c
		// A Freshdesk webhook is only a trigger: until the ticket job has read
		// the ticket (which sets updated_at), the contact's creation time is
		// the webhook's arrival, and a verdict on it can be wrong, e.g. an old
		// ticket judged a repeat. A note cannot be taken back, so nothing is
		// written before the read; the evaluation after it queues the job again.
		t.provisional = t.src == recontact.SourceFreshdesk && c.UpdatedAt.IsZero()
		// A change not yet evaluated (e.g. the API read just landed) can turn
		// the verdict; writing the old one could leave a note that cannot be
		// taken back. The evaluator is moments behind, so wait for it.
		t.stale = !c.Evaluated
		t.written = slices.Clone(c.TagsWritten)
		t.noteWritten = c.NoteWritten
		t.desired = DesiredTags(c, w.tags)
		t.add, t.remove = Diff(t.desired, c.TagsWritten, w.tags)
		t.needNote = w.cfg.Note && c.Repeat && !c.NoteWritten
	}
	return tasks, nil
}

// finish records a task's outcome on the contact and completes or retries
// its jobs.
func (w *Worker) finish(ctx context.Context, t *task) error {
	log := w.log.With(slog.String("source", string(t.src)), slog.String("ticket_id", t.id))
	var errs []error
	mark := func(tags []string, note bool, state, msg string) {
		if t.c == nil {
			return
		}
		if err := w.store.MarkWritten(ctx, t.src, t.id, tags, note, state, msg); err != nil {
			errs = append(errs, fmt.Errorf("record write-back of %s:%s: %w", t.src, t.id, err))
		}
	}
	complete := func() {
		for _, j := range t.jobs {
			if err := w.store.Complete(ctx, j.ID); err != nil {
				errs = append(errs, fmt.Errorf("complete job %d: %w", j.ID, err))
			}
		}
	}
	switch {
	case t.stale && !t.provisional && t.terminal == "" && t.err == nil:
		// Not an attempt that failed: no dead letter, however long it waits.
		for _, j := range t.jobs {
			if err := w.store.Retry(ctx, j, w.now().Add(staleRecheck), errors.New("waiting for the evaluation"), 0); err != nil {
				errs = append(errs, fmt.Errorf("job %d: %w", j.ID, err))
			}
		}
	case t.provisional && t.terminal == "" && t.err == nil:
		deferred, err := w.store.DeferWriteback(ctx, t.src, t.id, "waiting for the ticket's API read")
		if err != nil {
			errs = append(errs, fmt.Errorf("defer write-back of %s:%s: %w", t.src, t.id, err))
			break
		}
		for _, j := range t.jobs {
			if deferred {
				err = w.store.Complete(ctx, j.ID)
			} else { // the read landed meanwhile: run again with what it said
				err = w.store.Retry(ctx, j, w.now(), errors.New("the ticket was read meanwhile"), 0)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("job %d: %w", j.ID, err))
			}
		}
	case t.terminal != "":
		log.Info("writeback skipped", slog.String("reason", t.terminal))
		mark(t.written, t.noteWritten, "failed", t.terminal)
		complete()
	case t.err == nil && w.dry && !t.tagsDone:
		plan := plan(t)
		log.Info("writeback dry-run", slog.Any("add", t.add), slog.Any("remove", t.remove), slog.Bool("note", t.needNote))
		// TagsWritten keeps what is really on the ticket: were the plan stored
		// there, switching to "on" would believe it already sent.
		mark(t.written, t.noteWritten, ModeDryRun, plan)
		complete()
	case t.err == nil:
		if len(t.add) > 0 || len(t.remove) > 0 || t.needNote {
			log.Debug("writeback done", slog.Any("add", t.add), slog.Any("remove", t.remove), slog.Bool("note", t.noteWritten && t.needNote))
		}
		mark(t.desired, t.noteWritten, "done", "")
		complete()
	default:
		at, max, state := w.retryPlan(t)
		msg := errorText(t.err)
		if state == "failed" {
			log.Error("writeback failed for good", slog.Int("attempts", t.attempts()), slog.Any("err", t.err))
		} else {
			log.Warn("writeback will retry", slog.Int("attempts", t.attempts()), slog.Time("at", at), slog.Any("err", t.err))
		}
		mark(t.written, t.noteWritten, state, msg)
		for _, j := range t.jobs {
			if err := w.store.Retry(ctx, j, at, t.err, max); err != nil {
				errs = append(errs, fmt.Errorf("retry job %d: %w", j.ID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// retryPlan decides when a failed task runs again, the attempt limit to pass
// to the store, and the contact's state meanwhile. Rate limits and budget
// waits are not the job's fault: they never send it to the dead letter. A
// request the helpdesk calls invalid goes there at once: repeating it cannot
// help, and an admin can retry it after a fix.
func (w *Worker) retryPlan(t *task) (time.Time, int, string) {
	now := w.now()
	var ra worker.RetryAfter
	var zrl *zendesk.RateLimitError
	var frl *freshdesk.RateLimitError
	switch {
	case errors.As(t.err, &zrl) && zrl.RetryAfter > 0:
		return now.Add(zrl.RetryAfter), 0, "pending"
	case errors.As(t.err, &frl) && frl.RetryAfter > 0:
		return now.Add(frl.RetryAfter), 0, "pending"
	case zrl != nil || frl != nil:
		return now.Add(worker.Backoff(t.attempts())), 0, "pending"
	case errors.As(t.err, &ra):
		return now.Add(ra.RetryDelay()), 0, "pending"
	case recontact.ErrorCode(t.err) == recontact.EInvalid:
		return now, 1, "failed"
	}
	at := now.Add(worker.Backoff(t.attempts()))
	if t.attempts() >= w.cfg.MaxAttempts {
		return at, w.cfg.MaxAttempts, "failed"
	}
	return at, w.cfg.MaxAttempts, "pending"
}

// plan describes a dry run's changes for the contact's writeback_error.
func plan(t *task) string {
	var parts []string
	if len(t.add) > 0 {
		parts = append(parts, "would add "+strings.Join(t.add, " "))
	}
	if len(t.remove) > 0 {
		parts = append(parts, "would remove "+strings.Join(t.remove, " "))
	}
	if t.needNote {
		parts = append(parts, "would write the repeat-contact note")
	}
	if len(parts) == 0 {
		return "dry-run: nothing to change"
	}
	return "dry-run: " + strings.Join(parts, "; ")
}

// errorText is the caller-safe part of an error, for the contact's
// writeback_error (shown in the API): codes and messages, no bodies.
func errorText(err error) string {
	var re *recontact.Error
	if errors.As(err, &re) {
		msg := re.Message
		var zrl *zendesk.RateLimitError
		if errors.As(err, &zrl) {
			msg += ": " + zrl.Error()
		}
		return msg
	}
	return err.Error()
}

// note builds the repeat-contact note of a task's ticket from the store.
func (w *Worker) note(ctx context.Context, t *task) (Note, error) {
	n := Note{Source: t.src, Window: w.store.Settings().RepeatWindow}
	for _, ref := range t.c.Previous {
		src, id, ok := strings.Cut(ref, ":")
		if !ok {
			src, id = string(t.src), ref
		}
		e := EarlierTicket{Source: recontact.Source(src), TicketID: id}
		c, err := w.store.Contact(ctx, e.Source, id)
		switch {
		case err == nil:
			e.Status, e.CreatedAt = c.Status, c.CreatedAt
		case recontact.ErrorCode(err) != recontact.ENotFound:
			return Note{}, err
		}
		n.Earlier = append(n.Earlier, e)
	}
	return n, nil
}

// noteWritten records a note the moment it is written: it is the one write
// that is not idempotent, so a crash before the round ends must not repeat it.
func (w *Worker) noteWritten(ctx context.Context, t *task) {
	t.noteWritten = true
	err := w.store.MarkWritten(context.WithoutCancel(ctx), t.src, t.id, t.written, true, "pending", "")
	if err != nil {
		w.log.Warn("record note", slog.String("source", string(t.src)), slog.String("ticket_id", t.id), slog.Any("err", err))
	}
}

// observe reports one call to the Observer.
func (w *Worker) observe(helpdesk, kind string, err error) {
	if w.cfg.Observer != nil {
		w.cfg.Observer.Call(helpdesk, kind, statusOf(err))
	}
}

// statusOf recovers the HTTP status a client's error stands for.
func statusOf(err error) int {
	if err == nil {
		return 200
	}
	var zrl *zendesk.RateLimitError
	var frl *freshdesk.RateLimitError
	switch {
	case errors.As(err, &zrl):
		return zrl.Status
	case errors.As(err, &frl):
		return frl.Status
	case errors.Is(err, zendesk.ErrClosed):
		return 422
	}
	switch recontact.ErrorCode(err) {
	case recontact.ENotFound:
		return 404
	case recontact.EUnauthorized:
		return 401
	case recontact.EConflict:
		return 409
	case recontact.EInvalid:
		return 400
	}
	return 0
}

// parallel runs fns, at most n at a time.
func parallel(n int, fns []func()) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, fn := range fns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn()
		}()
	}
	wg.Wait()
}
