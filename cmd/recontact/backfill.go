package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/backfill"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/worker"
)

// liveSlack is how recent a ticket's last update must be for a backfill to
// leave it to write-back.
const liveSlack = time.Hour

// runBackfill is `recontact backfill zendesk|freshdesk --since DATE [--writeback]`.
func runBackfill(ctx context.Context, cfg *config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "zendesk" && args[0] != "freshdesk") {
		return errors.New("backfill: want `backfill zendesk --since DATE` or `backfill freshdesk --since DATE`")
	}
	src := recontact.Source(args[0])
	fs := flag.NewFlagSet("backfill "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	sinceFlag := fs.String("since", "", "read tickets updated at or after this time (YYYY-MM-DD or RFC 3339)")
	writeback := fs.Bool("writeback", false, "queue write-back of the verdicts (off by default: historic tickets need no tags)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *sinceFlag == "" {
		return errors.New("backfill: --since is required")
	}
	since, err := parseTime(*sinceFlag)
	if err != nil {
		return fmt.Errorf("backfill: --since: %w", err)
	}
	hd, err := newHelpdesks(cfg, log)
	if err != nil {
		return err
	}
	// Write-back stays off unless asked for; the evaluation runs regardless.
	var wb map[recontact.Source]bool
	if *writeback {
		wb = map[recontact.Source]bool{src: cfg.writebackSources()[src]}
	}
	s, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Settings: cfg.settings(), Writeback: wb})
	if err != nil {
		return err
	}
	defer s.Close()
	if !*writeback {
		// Any process evaluating what this loads (a serve with write-back on,
		// too) leaves tickets last updated before now minus liveSlack alone; the
		// last hour is left to write-back, as its webhooks may still be coming.
		if err := s.MarkHistoryBefore(ctx, src, time.Now().Add(-liveSlack)); err != nil {
			return err
		}
	}

	bar := newProgress(stderr, log)
	opt := backfill.Options{OnProgress: bar.update}
	var sum backfill.Summary
	switch src {
	case recontact.SourceZendesk:
		if !hd.zd.Configured() {
			return errors.New("backfill zendesk: set ZENDESK_SUBDOMAIN, ZENDESK_EMAIL and ZENDESK_API_TOKEN (an admin's: the export needs one)")
		}
		z := &backfill.Zendesk{Store: s, Client: hd.zd, Log: log, PerMinute: cfg.ZendeskExportsPerMinute}
		sum, err = z.Backfill(ctx, since, opt)
	case recontact.SourceFreshdesk:
		if !hd.fd.Configured() {
			return errors.New("backfill freshdesk: set FRESHDESK_DOMAIN and FRESHDESK_API_KEY")
		}
		f := &backfill.Freshdesk{Store: s, Client: hd.fd, Log: log, PerMinute: freshdeskBackfillBudget(cfg)}
		sum, err = f.Backfill(ctx, since, opt)
	}
	bar.finish()
	fmt.Fprintf(stdout, "%s backfill: %d records (%d contacts created, %d updated, %d deleted skipped), %d API calls, %s%s\n",
		src, sum.Records, sum.Created, sum.Updated, sum.Skipped, sum.Calls, sum.Elapsed.Round(time.Second), doneNote(sum, err))
	if err != nil {
		return err
	}
	start := time.Now()
	if err := (&worker.Evaluator{Store: s}).Drain(ctx); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	fmt.Fprintf(stdout, "evaluated in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func doneNote(sum backfill.Summary, err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "; interrupted, run the same command again to continue"
	case err != nil:
		return "; stopped, run the same command again to continue"
	case sum.Done:
		return "; complete"
	}
	return ""
}

// progress shows a bar on a terminal and a log line every few seconds
// otherwise. The bar measures the updated_at range covered, the only total
// an export gives before its end.
type progress struct {
	bar  *progressbar.ProgressBar
	log  *slog.Logger
	last time.Time
}

const barSteps = 1000

func newProgress(stderr io.Writer, log *slog.Logger) *progress {
	p := &progress{log: log}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(barSteps,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func (p *progress) update(st backfill.Progress) {
	rate := 0.0
	if st.Elapsed > 0 {
		rate = float64(st.Records) / st.Elapsed.Seconds()
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s %d records %.0f/s through %s", st.Source, st.Records, rate, st.Through.UTC().Format("2006-01-02")))
		_ = p.bar.Set(covered(st))
		return
	}
	if time.Since(p.last) >= 5*time.Second || st.Done {
		p.last = time.Now()
		p.log.Info("backfill progress", slog.String("source", string(st.Source)), slog.Int("records", st.Records),
			slog.Int("created", st.Created), slog.Int("updated", st.Updated), slog.Int("per_second", int(rate)),
			slog.Time("through", st.Through), slog.Int("api_calls", st.Calls))
	}
}

// covered is the share of [Since, now] read so far, in barSteps.
func covered(st backfill.Progress) int {
	if st.Done {
		return barSteps
	}
	span := time.Since(st.Since)
	if span <= 0 {
		return 0
	}
	return min(barSteps, max(0, int(float64(barSteps)*float64(st.Through.Sub(st.Since))/float64(span))))
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// runImport is `recontact import bookings FILE`.
func runImport(ctx context.Context, cfg *config, args []string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "bookings" {
		return errors.New("import: want `import bookings FILE` (CSV with a header row, or JSON Lines)")
	}
	f, err := os.Open(args[1])
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	// Validate the whole file before opening the store: a bad file changes nothing.
	bs, err := backfill.ReadBookings(filepath.Base(args[1]), f)
	if err != nil {
		return err
	}
	// Like a backfill, an import of history re-judges old contacts without
	// re-tagging their tickets.
	s, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Settings: cfg.settings()})
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.ImportBookings(ctx, bs); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if err := (&worker.Evaluator{Store: s}).Drain(ctx); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	fmt.Fprintf(stdout, "imported %d bookings from %s\n", len(bs), args[1])
	return nil
}

// newReconciler builds the reconciliation job, or nil when it is off or no
// helpdesk has API credentials.
func newReconciler(cfg *config, s *store.Store, hd *helpdesks, missed func(recontact.Source, int), log *slog.Logger) *backfill.Reconciler {
	if cfg.ReconcileInterval <= 0 {
		return nil
	}
	r := &backfill.Reconciler{Store: s, Log: log, Interval: cfg.ReconcileInterval, Missed: missed,
		// Well inside the runner's job lease, so no second instance takes
		// over a pass that is still running.
		Budget: time.Minute}
	if hd.zd.Configured() {
		r.Zendesk = &backfill.Zendesk{Store: s, Client: hd.zd, Log: log, PerMinute: cfg.ZendeskExportsPerMinute}
	}
	if hd.fd.Configured() {
		r.Freshdesk = &backfill.Freshdesk{Store: s, Client: hd.fd, Log: log, PerMinute: freshdeskBackfillBudget(cfg)}
	}
	if r.Zendesk == nil && r.Freshdesk == nil {
		return nil
	}
	return r
}

// freshdeskBackfillBudget is the credits a minute backfill and reconciliation
// spend: the serving instances' look-ups and write-back use their
// WRITEBACK_BUDGET_SHARE of the account's budget, and these keep to the rest.
func freshdeskBackfillBudget(cfg *config) int {
	return max(1, int(float64(cfg.FreshdeskRequestsPerMinute)*(1-cfg.WritebackBudgetShare)))
}
