package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
	"github.com/recontact/recontact/telemetry"
)

func TestPrometheusOutput(t *testing.T) {
	s := storetest.SQLite(t, store.Options{})
	if err := s.Enqueue(context.Background(), recontact.Job{Kind: recontact.JobWriteback, Key: "zendesk:1"}); err != nil {
		t.Fatal(err)
	}
	m := telemetry.New(s, 7*24*time.Hour, slog.New(slog.DiscardHandler))
	m.Delivery(recontact.SourceZendesk, "accepted", 0.004)
	m.Delivery(recontact.SourceZendesk, "duplicate", 0.002)
	m.Delivery(recontact.SourceBookings, "rejected_unauthorized", 0.001)
	m.Call("zendesk", "tags_add", 429)

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`recontact_webhook_deliveries_total{outcome="accepted",source="zendesk"} 1`,
		`recontact_webhook_deliveries_total{outcome="duplicate",source="zendesk"} 1`,
		`recontact_webhook_deliveries_total{outcome="rejected_unauthorized",source="bookings"} 1`,
		`recontact_ingest_seconds_bucket{source="zendesk",le="0.005"} 2`,
		`recontact_helpdesk_calls_total{helpdesk="zendesk",kind="tags_add",status="429"} 1`,
		`recontact_jobs{queue="writeback",state="pending"} 1`,
		`recontact_jobs{queue="writeback",state="failed"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// No contacts yet: the rates are undefined, so they are absent, not 0.
	if strings.Contains(string(body), `recontact_rate{`) {
		t.Errorf("rates shown with no data:\n%s", body)
	}
}
