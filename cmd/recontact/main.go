// Command recontact receives helpdesk and booking webhooks, measures repeat
// contacts and first contact resolution, and writes the verdicts back.
//
//	recontact               serve (same as `recontact serve`)
//	recontact migrate       apply migrations and exit
//	recontact replay --since 2026-10-01
//	                        re-parse kept raw deliveries (after a parser fix)
//	recontact demo          seed demo data (recontact-demo.db), then serve
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/bookings"
	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/handlers"
	"github.com/recontact/recontact/outbox"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/telemetry"
	"github.com/recontact/recontact/worker"
)

// gcPercent is the garbage collector's target when GOGC is unset. The live
// heap is small (tens of MB) and every delivery allocates, so at Go's 100 the
// collector ran several times a second under load: at 32 senders 400 cut the
// service's CPU per delivery by 13 to 22 % for about twice the peak memory.
const gcPercent = 400

func main() {
	tuneGC(os.LookupEnv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], environ(), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "recontact:", err)
		os.Exit(1)
	}
}

// tuneGC sets gcPercent unless the operator chose GOGC.
func tuneGC(lookup func(string) (string, bool)) {
	if _, set := lookup("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

func environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func run(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	switch cmd {
	case "serve":
		return serve(ctx, cfg, log, stderr, nil)
	case "migrate":
		s, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Settings: cfg.settings()})
		if err != nil {
			return err
		}
		defer s.Close()
		fmt.Fprintf(stdout, "migrations applied (%s)\n", s.Dialect())
		return nil
	case "replay":
		return replay(ctx, cfg, args, stdout)
	case "demo":
		return runDemo(ctx, cfg, env, log, stdout, stderr)
	case "backfill":
		return runBackfill(ctx, cfg, log, args, stdout, stderr)
	case "import":
		return runImport(ctx, cfg, args, stdout)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, "usage: recontact [serve|migrate|replay --since DATE|backfill zendesk|freshdesk --since DATE [--writeback]|import bookings FILE|demo]")
		return nil
	}
	return fmt.Errorf("unknown command %q (want serve, migrate, replay, backfill, import or demo)", cmd)
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// app is everything serve wires together; tests use it to reach the parts.
type app struct {
	store     *store.Store
	handler   *handlers.Handler
	runner    *worker.Runner
	evaluator *worker.Evaluator
	outbox    *outbox.Worker // nil when write-back is off
	addr      string
}

// connectors builds the webhook verifiers and parsers from the secrets. A
// source without a secret stays off; a malformed secret stops the start.
func connectors(cfg *config) (map[recontact.Source]handlers.Connector, error) {
	out := map[recontact.Source]handlers.Connector{}
	if cfg.ZendeskWebhookSecret != "" {
		v := &zendesk.Verifier{Secret: cfg.ZendeskWebhookSecret, AllowTestSecret: cfg.ZendeskAllowTestSecret}
		out[recontact.SourceZendesk] = handlers.Connector{Verify: v.Verify, Parse: zendesk.Parse}
	}
	if cfg.FreshdeskWebhookSecret != "" {
		v := &freshdesk.Verifier{Secret: cfg.FreshdeskWebhookSecret}
		out[recontact.SourceFreshdesk] = handlers.Connector{Verify: v.Verify, Parse: freshdesk.Parse}
	}
	if cfg.BookingWebhookSecret != "" {
		v, err := bookings.NewVerifier(cfg.BookingWebhookSecret, time.Now)
		if err != nil {
			return nil, fmt.Errorf("BOOKING_WEBHOOK_SECRET: %w", err)
		}
		out[recontact.SourceBookings] = handlers.Connector{Verify: v.Verify, Parse: bookings.Parse}
	}
	return out, nil
}

// serve runs until ctx ends, then drains in-flight requests and workers.
// ready, if not nil, receives the app once it listens.
func serve(ctx context.Context, cfg *config, log *slog.Logger, stderr io.Writer, ready chan<- *app) error {
	conns, err := connectors(cfg)
	if err != nil {
		return err
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = randomToken()
		// Printed once, straight to the terminal rather than the structured log.
		fmt.Fprintf(stderr, "ADMIN_TOKEN is not set; this run's admin token is %s\n", cfg.AdminToken)
	}
	hd, err := newHelpdesks(cfg, log)
	if err != nil {
		return err
	}
	s, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Settings: cfg.settings(), GroupCommit: true,
		Writeback: cfg.writebackSources(), Logger: log})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer s.Close()

	ev := &worker.Evaluator{Store: s, Log: log, Coalesce: 200 * time.Millisecond}
	runner := &worker.Runner{Store: s, Log: log, Funcs: hd.enrichment(s), MaxAttempts: cfg.JobMaxAttempts}
	checker := alerting(cfg, s, runner, log)
	tm := telemetry.New(s, time.Duration(cfg.AlertWindow), log)
	ob, err := newOutbox(cfg, s, hd, tm, log)
	if err != nil {
		return err
	}
	if ob != nil {
		ev.Evaluated = ob.Wake
	}
	// Reconciliation passes last up to a minute, so they get a runner of
	// their own rather than hold up the look-ups' batches.
	var reconciler *worker.Runner
	if rec := newReconciler(cfg, s, hd, tm.Reconciled, log); rec != nil {
		reconciler = &worker.Runner{Store: s, Log: log, Funcs: map[string]worker.Func{recontact.JobReconcile: rec.Job},
			MaxAttempts: cfg.JobMaxAttempts, Batch: 1, Concurrency: 1, Poll: 10 * time.Second}
		if err := rec.Schedule(ctx); err != nil {
			return err
		}
	}
	h := handlers.New(handlers.Config{
		Store: s, Logger: log, AdminToken: cfg.AdminToken, Connectors: conns,
		Observer: tm, Prometheus: tm.Handler(), MetricsToken: cfg.MetricsToken,
		ZendeskSubdomain: cfg.ZendeskSubdomain, FreshdeskDomain: cfg.FreshdeskDomain,
	})
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(cfg.Port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}

	var wg sync.WaitGroup
	workCtx, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	wg.Go(func() { ev.Run(workCtx) })
	// The applier's signal wakes the evaluator for the contacts it wrote.
	wg.Go(func() { ev.Follow(workCtx, s.Applied()) })
	wg.Go(func() { runner.Run(workCtx) })
	if reconciler != nil {
		wg.Go(func() { reconciler.Run(workCtx) })
	}
	if checker != nil {
		wg.Go(func() { checker.Run(workCtx) })
	}
	if ob != nil {
		wg.Go(func() { ob.Run(workCtx) })
	}
	wg.Go(func() { prune(workCtx, s, log, time.Duration(cfg.RawRetention)) })

	log.Info("recontact listening", slog.String("addr", ln.Addr().String()), slog.String("store", string(s.Dialect())),
		slog.Any("webhooks", sources(conns)), slog.Any("writeback", writebackLog(cfg)))
	if ready != nil {
		ready <- &app{store: s, handler: h, runner: runner, evaluator: ev, outbox: ob, addr: ln.Addr().String()}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		stopWork()
		wg.Wait()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx) // in-flight webhooks finish and commit first
	stopWork()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func sources(conns map[recontact.Source]handlers.Connector) []string {
	var out []string
	for src := range conns {
		out = append(out, string(src))
	}
	return out
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// prune drops raw bodies older than the retention, hourly.
func prune(ctx context.Context, s *store.Store, log *slog.Logger, retention time.Duration) {
	for {
		n, err := s.PruneDeliveries(ctx, time.Now().Add(-retention))
		if err != nil && ctx.Err() == nil {
			log.Warn("prune deliveries", slog.Any("err", err))
		} else if n > 0 {
			log.Info("pruned raw deliveries", slog.Int64("deliveries", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Hour):
		}
	}
}

// replay re-parses the kept raw deliveries received since --since and applies
// what they say again. Snapshots merge idempotently and activity counters are
// not re-added, so replaying never double-counts.
func replay(ctx context.Context, cfg *config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	since := fs.String("since", "", "replay deliveries received at or after this time (RFC 3339 or YYYY-MM-DD)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *since == "" {
		return errors.New("replay: --since is required")
	}
	from, err := parseTime(*since)
	if err != nil {
		return fmt.Errorf("replay: --since: %w", err)
	}
	// Verdicts a replay changes queue their write-backs for the next serve.
	s, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Settings: cfg.settings(), Writeback: cfg.writebackSources()})
	if err != nil {
		return err
	}
	defer s.Close()
	parsers := map[recontact.Source]func(http.Header, []byte, time.Time) (*recontact.Delivery, error){
		recontact.SourceZendesk: zendesk.Parse, recontact.SourceFreshdesk: freshdesk.Parse, recontact.SourceBookings: bookings.Parse,
	}
	st, err := s.Replay(ctx, from, func(src recontact.Source, key string, received time.Time, body []byte) (*recontact.Delivery, error) {
		parse, ok := parsers[src]
		if !ok {
			return nil, fmt.Errorf("unknown source %q", src)
		}
		// Only the booking parser reads headers: rebuild the two it uses.
		h := http.Header{}
		h.Set("webhook-id", key)
		h.Set("webhook-timestamp", strconv.FormatInt(received.Unix(), 10))
		return parse(h, body, received)
	})
	fmt.Fprintf(stdout, "replayed %d deliveries (%d failed to parse, %d bodies already pruned)\n", st.Applied, st.Failed, st.Pruned)
	if err != nil {
		return err
	}
	return (&worker.Evaluator{Store: s}).Drain(ctx)
}

func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, v)
}
