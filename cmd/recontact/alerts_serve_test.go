package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/alerts"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/store/storetest"
)

// TestServeAlerts: with ALERT_WEBHOOK_URL set, serve checks the rules on its
// own and posts a high contact ratio, once, to the receiver.
func TestServeAlerts(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		var mu sync.Mutex
		var got []alerts.Message
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var m alerts.Message
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			got = append(got, m)
			mu.Unlock()
		}))
		defer rcv.Close()
		cfg, err := loadConfig(map[string]string{"PORT": "1", "DATABASE_URL": url, "ZENDESK_WEBHOOK_SECRET": "s3cret",
			"ADMIN_TOKEN": "tok", "ALERT_WEBHOOK_URL": rcv.URL, "ALERT_CHECK_INTERVAL": "1s"})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Port = freePort(t)
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan *app, 1)
		done := make(chan error, 1)
		go func() { done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard, ready) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}()
		var a *app
		select {
		case a = <-ready:
		case err := <-done:
			t.Fatalf("serve: %v", err)
		}

		// One booking and one ticket for partner-a: a contact ratio of 1.
		made := time.Now().UTC().Add(-2 * time.Hour)
		if err := a.store.UpsertBooking(ctx, &recontact.Booking{ID: "bk-1", Partner: "partner-a", CustomerEmail: "z@example.com",
			CustomerKey: "z@example.com", CreatedAt: made, CheckIn: "2027-01-01", CheckOut: "2027-01-03", Status: "confirmed"}); err != nil {
			t.Fatal(err)
		}
		created := made.Add(time.Hour).Format(time.RFC3339)
		body := `{"ticket_id":"9","created_at":"` + created + `","updated_at":"` + created + `","status":"Open","via":"Mail","requester_email":"z@example.com","org_external_id":"partner-a"}`
		ts := time.Now().UTC().Format(time.RFC3339)
		req, _ := http.NewRequest(http.MethodPost, "http://"+a.addr+"/webhooks/zendesk", strings.NewReader(body))
		req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
		req.Header.Set("X-Zendesk-Webhook-Signature", zendesk.Sign("s3cret", ts, []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("webhook: %v %v", resp, err)
		}
		resp.Body.Close()

		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= 2 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(1500 * time.Millisecond) // another check or two: nothing more may arrive
		mu.Lock()
		defer mu.Unlock()
		partners := map[string]bool{}
		for _, m := range got {
			if m.Rule != alerts.RuleContactRatioHigh || m.State != alerts.Firing || m.Value == nil || *m.Value != 1 {
				t.Errorf("message %+v", m)
			}
			p := "*"
			if m.Partner != nil {
				p = *m.Partner
			}
			partners[p] = true
		}
		if len(got) != 2 || !partners["*"] || !partners["partner-a"] {
			t.Errorf("received %d messages for %v, want 2: all partners and partner-a", len(got), partners)
		}
	})
}
