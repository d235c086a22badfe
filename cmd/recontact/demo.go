package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/recontact/recontact/demo"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/worker"
)

// demoDatabaseURL keeps demo data out of the default recontact.db.
const demoDatabaseURL = "sqlite:recontact-demo.db"

// runDemo seeds the demo data set (idempotent: a second run adds nothing)
// and then serves as usual, so the dashboard at / shows it.
func runDemo(ctx context.Context, cfg *config, env map[string]string, log *slog.Logger, stdout, stderr io.Writer) error {
	if _, ok := env["DATABASE_URL"]; !ok {
		cfg.DatabaseURL = demoDatabaseURL
	}
	if cfg.AdminToken == "" {
		cfg.AdminToken = randomToken()
	}
	start := time.Now()
	s, err := store.Open(ctx, cfg.DatabaseURL, store.Options{Settings: cfg.settings(), GroupCommit: true})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	st, err := demo.Seed(ctx, s, time.Now(), demo.Options{})
	if err == nil {
		err = (&worker.Evaluator{Store: s}).Drain(ctx)
	}
	dialect := s.Dialect()
	s.Close()
	if err != nil {
		return fmt.Errorf("seed demo data: %w", err)
	}
	fresh := st.Bookings + st.Contacts - st.Duplicates
	// The URL may carry a password: name the database kind only.
	fmt.Fprintf(stdout, "demo data (%s): %d bookings and %d tickets across %d partners over 90 days (%d new, seeded in %s)\n",
		dialect, st.Bookings, st.Contacts, len(demo.Partners), fresh, time.Since(start).Round(100*time.Millisecond))
	fmt.Fprintf(stdout, "dashboard: http://localhost:%d/   admin token: %s\n", cfg.Port, cfg.AdminToken)
	return serve(ctx, cfg, log, stderr, nil)
}
