package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/zendesk/zendesktest"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// TestBackfillCommand runs `recontact backfill zendesk` and `recontact import
// bookings` as an operator would, against the fake Zendesk, on each store.
func TestBackfillCommand(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		fake := zendesktest.New(t, zendesktest.WithExportPageSize(2))
		fake.AddUser(zendesktest.User{ID: "7", Email: "ann@example.com"})
		at := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
		for _, id := range []string{"11", "12", "13"} {
			fake.AddTicket(zendesktest.Ticket{ID: id, Status: "solved", RequesterID: "7", Via: "mail", CreatedAt: at, UpdatedAt: at.Add(time.Hour), Replies: 1, SolvedAt: at.Add(time.Hour)})
		}
		env := map[string]string{"DATABASE_URL": url, "ZENDESK_API_URL": fake.URL, "ZENDESK_EMAIL": fake.Email, "ZENDESK_API_TOKEN": fake.Token}
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"backfill", "zendesk", "--since", "2026-01-01"}, env, &out, &errOut); err != nil {
			t.Fatalf("backfill: %v\n%s", err, errOut.String())
		}
		if !strings.Contains(out.String(), "zendesk backfill: 3 records (3 contacts created, 0 updated, 0 deleted skipped), 2 API calls") ||
			!strings.Contains(out.String(), "; complete") {
			t.Errorf("summary %q, want 3 records created with 2 export calls, complete", out.String())
		}

		dir := t.TempDir()
		good := filepath.Join(dir, "bookings.csv")
		os.WriteFile(good, []byte("id,partner_id,customer_email,created_at,check_in,check_out,status\nbk-1,p,ann@example.com,2026-01-06,2026-01-10,2026-01-12,confirmed\n"), 0o600)
		bad := filepath.Join(dir, "bad.csv")
		os.WriteFile(bad, []byte("id,partner_id,customer_email,created_at,check_in,check_out,status\nbk-2,p,bo@example.com,2026-01-06,,,\nbk-3,p,cy@example.com,2026-01-07,2026-13-01,2026-01-12,\n"), 0o600)
		out.Reset()
		if err := run(context.Background(), []string{"import", "bookings", good}, env, &out, &errOut); err != nil || !strings.Contains(out.String(), "imported 1 bookings") {
			t.Errorf("import: %q, %v", out.String(), err)
		}
		err := run(context.Background(), []string{"import", "bookings", bad}, env, &out, &errOut)
		if want := `bad.csv:3: check_in: want YYYY-MM-DD or RFC 3339, got "2026-13-01"`; err == nil || err.Error() != want {
			t.Errorf("bad file: %v, want %s", err, want)
		}

		s, err := store.Open(context.Background(), url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var bookings int
		if err := s.DB().Get(&bookings, `SELECT COUNT(*) FROM bookings`); err != nil || bookings != 1 {
			t.Errorf("%d bookings stored (%v), want 1: nothing of the rejected file", bookings, err)
		}
		c, err := s.Contact(context.Background(), recontact.SourceZendesk, "12")
		if err != nil || !c.Evaluated || c.CustomerKey != "ann@example.com" {
			t.Errorf("contact 12: %+v, %v; want it evaluated, keyed by the requester's e-mail", c, err)
		}
	})
}

// TestServeReconciles starts serve with reconciliation on: a ticket whose
// webhook never came is stored by the first pass and counted on /metrics.
func TestServeReconciles(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		fake := zendesktest.New(t)
		fake.AddUser(zendesktest.User{ID: "7", Email: "ann@example.com"})
		at := time.Now().Add(-5 * time.Minute).Truncate(time.Second)
		fake.AddTicket(zendesktest.Ticket{ID: "21", Status: "open", RequesterID: "7", Via: "mail", CreatedAt: at, UpdatedAt: at})
		cfg, err := loadConfig(map[string]string{"PORT": "1", "DATABASE_URL": url, "ADMIN_TOKEN": "tok", "WRITEBACK": "off",
			"ZENDESK_API_URL": fake.URL, "ZENDESK_EMAIL": fake.Email, "ZENDESK_API_TOKEN": fake.Token, "RECONCILE_INTERVAL": "15m"})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Port = freePort(t)
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan *app, 1)
		done := make(chan error, 1)
		go func() { done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard, ready) }()
		var a *app
		select {
		case a = <-ready:
		case err := <-done:
			t.Fatalf("serve: %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := a.store.Contact(ctx, recontact.SourceZendesk, "21"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("ticket 21 not reconciled within 10 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The pass counts what it found once its batch is stored, a moment
		// after the contact can be read.
		for {
			resp, err := http.Get("http://" + a.addr + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			scrape, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if bytes.Contains(scrape, []byte(`recontact_reconciled_missed_total{source="zendesk"} 1`)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("scrape lacks the reconciled ticket:\n%s", grepLines(scrape, "reconciled"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

func grepLines(b []byte, sub string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
