package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/store/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.DropTemplates()
	os.Exit(code)
}

// TestServe starts the wired service on each store, sends a signed webhook
// and reads the evaluated contact back within a second of the 2xx.
func TestServe(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		cfg, err := loadConfig(map[string]string{"PORT": "1", "DATABASE_URL": url,
			"ZENDESK_WEBHOOK_SECRET": "s3cret", "ADMIN_TOKEN": "tok", "METRICS_TOKEN": "mtok"})
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
		base := "http://" + a.addr

		body := `{"ticket_id":"9","created_at":"2026-10-05T10:00Z","updated_at":"2026-10-05T10:00Z","status":"Open","via":"Mail","requester_email":"z@example.com"}`
		ts := time.Now().UTC().Format(time.RFC3339)
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/zendesk", strings.NewReader(body))
		req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
		req.Header.Set("X-Zendesk-Webhook-Signature", zendesk.Sign("s3cret", ts, []byte(body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("webhook: %v %v", resp, err)
		}
		resp.Body.Close()
		acked := time.Now()

		var got map[string]any
		for {
			req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/tickets/zendesk/9", nil)
			req.Header.Set("Authorization", "Bearer tok")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if got["evaluated"] == true || time.Since(acked) > time.Second {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if got["evaluated"] != true || got["customer"] != "z***@example.com" {
			t.Errorf("a second after the 2xx: %v", got)
		}

		req, _ = http.NewRequest(http.MethodGet, base+"/metrics", nil)
		if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
			t.Errorf("/metrics without METRICS_TOKEN: %d, want 401", resp.StatusCode)
		}
		req.Header.Set("Authorization", "Bearer mtok")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		scrape, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(scrape, []byte(`recontact_webhook_deliveries_total{outcome="accepted",source="zendesk"} 1`)) {
			t.Errorf("scrape lacks the accepted delivery")
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}

func TestMigrateCommand(t *testing.T) {
	var out bytes.Buffer
	url := storetest.SQLiteURL(t)
	if err := run(context.Background(), []string{"migrate"}, map[string]string{"DATABASE_URL": url}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "migrations applied (sqlite)") {
		t.Errorf("migrate said %q", out.String())
	}
	err := run(context.Background(), []string{"frobnicate"}, map[string]string{"DATABASE_URL": url}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
