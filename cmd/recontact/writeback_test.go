package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	stdslices "slices" // config.go declares a func named slices
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/freshdesk/freshdesktest"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/connectors/zendesk/zendesktest"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// wbEnv is `recontact serve` wired to a fake Zendesk, restartable on the
// same database.
type wbEnv struct {
	t      *testing.T
	url    string
	zd     *zendesktest.Server
	a      *app
	base   string
	cancel context.CancelFunc
	done   chan error
}

func newWBEnv(t *testing.T, url string) *wbEnv {
	return &wbEnv{t: t, url: url, zd: zendesktest.New(t)}
}

// start serves with the fake's credentials and extra settings.
func (e *wbEnv) start(extra map[string]string) {
	e.t.Helper()
	env := map[string]string{"DATABASE_URL": e.url, "ZENDESK_WEBHOOK_SECRET": "s3cret", "ADMIN_TOKEN": "tok",
		"ZENDESK_API_URL": e.zd.URL, "ZENDESK_EMAIL": e.zd.Email, "ZENDESK_API_TOKEN": e.zd.Token}
	maps.Copy(env, extra)
	cfg, err := loadConfig(env)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.Port = freePort(e.t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *app, 1)
	e.done = make(chan error, 1)
	go func() { e.done <- serve(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard, ready) }()
	select {
	case e.a = <-ready:
	case err := <-e.done:
		cancel()
		e.t.Fatalf("serve: %v", err)
	}
	e.base, e.cancel = "http://"+e.a.addr, cancel
	e.t.Cleanup(e.stop)
}

// stop shuts serve down as SIGTERM does; in-flight write-backs go back to
// the queue.
func (e *wbEnv) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	if err := <-e.done; err != nil {
		e.t.Errorf("shutdown: %v", err)
	}
}

// webhook delivers a Zendesk trigger webhook for a ticket.
func (e *wbEnv) webhook(id, email, status string, created, updated time.Time, tags ...string) {
	e.t.Helper()
	body := fmt.Sprintf(`{"ticket_id":%q,"created_at":%q,"updated_at":%q,"status":%q,"via":"Mail","requester_email":%q,"tags":%q}`,
		id, created.UTC().Format(time.RFC3339), updated.UTC().Format(time.RFC3339), status, email, strings.Join(tags, " "))
	ts := time.Now().UTC().Format(time.RFC3339)
	req, _ := http.NewRequest(http.MethodPost, e.base+"/webhooks/zendesk", strings.NewReader(body))
	req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
	req.Header.Set("X-Zendesk-Webhook-Signature", zendesk.Sign("s3cret", ts, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		e.t.Fatalf("webhook %s: %d", id, resp.StatusCode)
	}
}

// api calls the admin API and decodes the JSON answer.
func (e *wbEnv) api(method, path string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.base+path, nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// items is GET /api/v1/writeback?state=…'s list.
func (e *wbEnv) items(state string) []map[string]any {
	e.t.Helper()
	code, body := e.api(http.MethodGet, "/api/v1/writeback?state="+state)
	if code != 200 {
		e.t.Fatalf("GET writeback?state=%s: %d %v", state, code, body)
	}
	var out []map[string]any
	for _, it := range body["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func (e *wbEnv) tags(id string) []string {
	e.t.Helper()
	tk, ok := e.zd.Ticket(id)
	if !ok {
		e.t.Fatalf("fake has no ticket %s", id)
	}
	return stdslices.Sorted(stdslices.Values(tk.Tags))
}

func (e *wbEnv) notes(id string) []zendesktest.Comment {
	tk, _ := e.zd.Ticket(id)
	return tk.Comments
}

// writes counts the fake's calls that change tickets.
func (e *wbEnv) writes() int {
	n := 0
	for _, k := range []zendesktest.Kind{zendesktest.KindAddTags, zendesktest.KindRemoveTags, zendesktest.KindSetTags,
		zendesktest.KindUpdateMany, zendesktest.KindTicketUpdate} {
		n += e.zd.Calls(k)
	}
	return n
}

func (e *wbEnv) queue() (pending, running, failed int) {
	e.t.Helper()
	q, err := e.a.store.Queue(context.Background(), []string{recontact.JobWriteback})
	if err != nil {
		e.t.Fatal(err)
	}
	return q.Pending, q.Running, q.Failed
}

// eventually polls cond every 20 ms until it holds or d has passed.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestWritebackZendesk: a repeat contact's webhook ends, within 5 s of the
// 2xx, with repeat_contact on its ticket and not_fcr on the earlier one, one
// internal note, the foreign tags intact; the webhook Zendesk then sends
// about recontact's own update causes no further write.
func TestWritebackZendesk(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		e := newWBEnv(t, url)
		now := time.Now().Truncate(time.Second)
		e.zd.AddTicket(zendesktest.Ticket{ID: "101", Status: "solved", CreatedAt: now.Add(-72 * time.Hour), UpdatedAt: now.Add(-71 * time.Hour)})
		e.zd.AddTicket(zendesktest.Ticket{ID: "102", Status: "open", Tags: []string{"vip"}, CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)})
		// The whole of Zendesk's 100 updates a minute: this test's five
		// updates fit the burst, so it measures the path, not the budget.
		e.start(map[string]string{"WRITEBACK_BUDGET_SHARE": "1"})

		e.webhook("101", "ann@example.com", "Solved", now.Add(-72*time.Hour), now.Add(-71*time.Hour))
		e.webhook("102", "ann@example.com", "Open", now.Add(-time.Hour), now.Add(-time.Hour), "vip")
		acked := time.Now()
		// An agent tags the ticket while recontact is at work.
		e.zd.AddTagsAsAgent("102", "billing")
		eventually(t, 5*time.Second, "ticket 102 tagged repeat_contact", func() bool {
			return stdslices.Contains(e.tags("102"), "repeat_contact") && len(e.notes("102")) > 0
		})
		t.Logf("2xx to tag and note: %s", time.Since(acked).Round(time.Millisecond))
		// 101 was fcr until 102 came: the tag is replaced.
		eventually(t, 5*time.Second, "ticket 101 tagged not_fcr only", func() bool { return stdslices.Equal(e.tags("101"), []string{"not_fcr"}) })

		if got, want := e.tags("102"), []string{"billing", "repeat_contact", "vip"}; !stdslices.Equal(got, want) {
			t.Errorf("ticket 102 tags %v, want %v", got, want)
		}
		if got := e.tags("101"); !stdslices.Equal(got, []string{"not_fcr"}) {
			t.Errorf("ticket 101 tags %v, want [not_fcr]", got)
		}
		notes := e.notes("102")
		if len(notes) != 1 || notes[0].Public || !strings.Contains(notes[0].Body, "#101 (solved") || strings.Contains(notes[0].Body, "ann@") {
			t.Errorf("ticket 102 notes: %+v; want one internal note naming #101 and no e-mail", notes)
		}
		if len(e.notes("101")) != 0 {
			t.Errorf("ticket 101 got a note; it is no repeat")
		}
		// Both jobs finished (the tags on the fake change before a job records
		// its end): Zendesk's echo can only follow the update.
		eventually(t, 2*time.Second, "write-back recorded as done", func() bool {
			_, tk101 := e.api(http.MethodGet, "/api/v1/tickets/zendesk/101")
			_, tk102 := e.api(http.MethodGet, "/api/v1/tickets/zendesk/102")
			return tk101["writeback"] == "done" && tk102["writeback"] == "done"
		})
		_, tk := e.api(http.MethodGet, "/api/v1/tickets/zendesk/102")
		if got := strs(tk["tags_written"]); !stdslices.Equal(got, []string{"repeat_contact"}) || tk["writeback_error"] != nil {
			t.Errorf("ticket API: tags_written %v, writeback_error %v", got, tk["writeback_error"])
		}
		eventually(t, 2*time.Second, "no write-back left before the echo", func() bool {
			p, r, _ := e.queue()
			return p+r == 0
		})

		// The loop case: Zendesk reports recontact's own update.
		before := e.writes()
		echoAt := now.Add(time.Minute)
		e.webhook("102", "ann@example.com", "Open", now.Add(-time.Hour), echoAt, "vip", "billing", "repeat_contact")
		e.webhook("101", "ann@example.com", "Solved", now.Add(-72*time.Hour), echoAt, "not_fcr")
		eventually(t, 3*time.Second, "the echo evaluated", func() bool {
			_, tk := e.api(http.MethodGet, "/api/v1/tickets/zendesk/102")
			return tk["evaluated"] == true && tk["updated_at"] == echoAt.UTC().Format(time.RFC3339)
		})
		if p, r, _ := e.queue(); p+r != 0 {
			t.Errorf("the echo queued write-backs: %d pending, %d running", p, r)
		}
		time.Sleep(300 * time.Millisecond)
		if got := e.writes(); got != before {
			t.Errorf("the echo caused %d more ticket writes", got-before)
		}
		if n := e.zd.Calls(zendesktest.KindSetTags); n != 0 {
			t.Errorf("%d calls replaced a ticket's whole tag list", n)
		}
	})
}

// TestWritebackRestart: serve stops while a write-back call is in flight;
// the job survives in the store and the next serve on the same database
// finishes it, without writing the note a second time.
func TestWritebackRestart(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		e := newWBEnv(t, url)
		now := time.Now().Truncate(time.Second)
		e.zd.AddTicket(zendesktest.Ticket{ID: "201", Status: "solved", CreatedAt: now.Add(-72 * time.Hour), UpdatedAt: now.Add(-71 * time.Hour)})
		e.zd.AddTicket(zendesktest.Ticket{ID: "202", Status: "open", Tags: []string{"vip"}, CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)})
		e.start(nil)
		e.webhook("201", "bo@example.com", "Solved", now.Add(-72*time.Hour), now.Add(-71*time.Hour))
		e.webhook("202", "bo@example.com", "Open", now.Add(-time.Hour), now.Add(-time.Hour), "vip")
		eventually(t, 10*time.Second, "201 and 202 written", func() bool {
			p, r, _ := e.queue()
			return p+r == 0 && len(e.notes("202")) == 1 && stdslices.Equal(e.tags("201"), []string{"not_fcr"})
		})

		// The agent solves 202; Zendesk is slow, and serve stops mid-call.
		e.zd.SetLatency(10 * time.Second)
		e.zd.SetStatus("202", "solved")
		calls := e.zd.Calls(zendesktest.KindAddTags)
		e.webhook("202", "bo@example.com", "Solved", now.Add(-time.Hour), now, "vip", "repeat_contact")
		eventually(t, 5*time.Second, "the fcr tag in flight", func() bool { return e.zd.Calls(zendesktest.KindAddTags) > calls })
		e.stop()

		s, err := store.Open(context.Background(), url, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		q, err := s.Queue(context.Background(), []string{recontact.JobWriteback})
		s.Close()
		if err != nil || q.Pending != 1 {
			t.Fatalf("after the stop: queue %+v, %v; want the job pending", q, err)
		}

		e.zd.SetLatency(0)
		e.start(nil)
		eventually(t, 10*time.Second, "202 written after the restart", func() bool {
			_, tk := e.api(http.MethodGet, "/api/v1/tickets/zendesk/202")
			return tk["writeback"] == "done" && stdslices.Contains(e.tags("202"), "fcr")
		})
		if got, want := e.tags("202"), []string{"fcr", "repeat_contact", "vip"}; !stdslices.Equal(got, want) {
			t.Errorf("ticket 202 tags %v, want %v", got, want)
		}
		if n := len(e.notes("202")); n != 1 {
			t.Errorf("ticket 202 has %d notes after the restart, want 1", n)
		}
	})
}

// TestWritebackDryRun: WRITEBACK=dry-run sends nothing; the plan shows in
// the write-back API and on the ticket.
func TestWritebackDryRun(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		e := newWBEnv(t, url)
		now := time.Now().Truncate(time.Second)
		e.zd.AddTicket(zendesktest.Ticket{ID: "301", Status: "solved", CreatedAt: now.Add(-72 * time.Hour), UpdatedAt: now.Add(-71 * time.Hour)})
		e.zd.AddTicket(zendesktest.Ticket{ID: "302", Status: "open", CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour)})
		e.start(map[string]string{"WRITEBACK": "dry-run"})
		e.webhook("301", "cy@example.com", "Solved", now.Add(-72*time.Hour), now.Add(-71*time.Hour))
		e.webhook("302", "cy@example.com", "Open", now.Add(-time.Hour), now.Add(-time.Hour))

		// 301 may show "would add fcr" until 302's evaluation turns it not_fcr.
		want := map[string]string{
			"301": "dry-run: would add not_fcr",
			"302": "dry-run: would add repeat_contact; would write the repeat-contact note",
		}
		plans := map[string]string{}
		eventually(t, 5*time.Second, fmt.Sprintf("the plans listed are %v (last seen %v)", want, plans), func() bool {
			for _, it := range e.items("done") {
				if it["state"] == "dry-run" {
					plans[it["ticket_id"].(string)], _ = it["plan"].(string)
				}
			}
			return maps.Equal(plans, want)
		})
		if n := e.writes(); n != 0 {
			t.Errorf("dry-run made %d ticket writes", n)
		}
		_, tk := e.api(http.MethodGet, "/api/v1/tickets/zendesk/302")
		if tk["writeback"] != "off" || tk["writeback_error"] != want["302"] || len(strs(tk["tags_written"])) != 0 {
			t.Errorf("ticket API in dry-run: writeback %v, writeback_error %v, tags_written %v", tk["writeback"], tk["writeback_error"], tk["tags_written"])
		}
	})
}

// TestWritebackFailures: a closed ticket is recorded as failed and never
// retried; a ticket Zendesk keeps failing goes to the dead letter after
// WRITEBACK_MAX_ATTEMPTS, and an admin's retry then writes it.
func TestWritebackFailures(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		e := newWBEnv(t, url)
		now := time.Now().Truncate(time.Second)
		e.zd.AddTicket(zendesktest.Ticket{ID: "401", Status: "closed", CreatedAt: now.Add(-72 * time.Hour), UpdatedAt: now.Add(-71 * time.Hour)})
		e.zd.AddTicket(zendesktest.Ticket{ID: "402", Status: "solved", CreatedAt: now.Add(-3 * time.Hour), UpdatedAt: now.Add(-2 * time.Hour)})
		e.start(map[string]string{"WRITEBACK_MAX_ATTEMPTS": "2"})

		e.webhook("401", "di@example.com", "Closed", now.Add(-72*time.Hour), now.Add(-71*time.Hour))
		var closed map[string]any
		eventually(t, 5*time.Second, "the closed ticket listed as failed", func() bool {
			for _, it := range e.items("failed") {
				if it["ticket_id"] == "401" {
					closed = it
				}
			}
			return closed != nil
		})
		if closed["id"] != nil || closed["last_error"] != "ticket closed" {
			t.Errorf("closed ticket's entry: %v; want no job and last_error \"ticket closed\"", closed)
		}
		time.Sleep(time.Second)
		if n := e.writes(); n != 1 {
			t.Errorf("%d writes to the closed ticket, want the one refused", n)
		}
		if _, tk := e.api(http.MethodGet, "/api/v1/tickets/zendesk/401"); tk["writeback"] != "failed" {
			t.Errorf("ticket API writeback %v, want failed", tk["writeback"])
		}

		// Each attempt is a call and its client's two retries.
		e.zd.FailNext(6, zendesktest.Fault{Status: http.StatusBadGateway, Kind: zendesktest.KindAddTags})
		e.webhook("402", "ed@example.com", "Solved", now.Add(-3*time.Hour), now.Add(-2*time.Hour))
		var dead map[string]any
		// The contact is marked failed a moment before its job is: wait for both.
		eventually(t, 15*time.Second, "402 in the dead letter", func() bool {
			for _, it := range e.items("failed") {
				if it["ticket_id"] == "402" && it["id"] != nil {
					dead = it
				}
			}
			return dead != nil
		})
		if dead["id"] == nil || dead["attempts"] != 2.0 || !strings.Contains(fmt.Sprint(dead["last_error"]), "502") || dead["updated_at"] == nil {
			t.Fatalf("dead letter entry %v; want a job id, 2 attempts and the 502", dead)
		}
		if n := e.zd.Calls(zendesktest.KindAddTags); n != 1+6 {
			t.Fatalf("%d tag calls, want the closed ticket's and 6 failed ones", n)
		}
		id := fmt.Sprint(int64(dead["id"].(float64)))
		// Requeued with its attempts reset; the outbox may have claimed it
		// again by the time the answer is read.
		code, body := e.api(http.MethodPost, "/api/v1/writeback/"+id+"/retry")
		requeued := body["state"] == "pending" && body["attempts"] == 0.0 || body["state"] == "running" && body["attempts"] == 1.0
		if code != 200 || !requeued || body["ticket_id"] != "402" {
			t.Fatalf("retry: %d %v", code, body)
		}
		eventually(t, 5*time.Second, "402 written after the retry", func() bool {
			_, tk := e.api(http.MethodGet, "/api/v1/tickets/zendesk/402")
			return tk["writeback"] == "done"
		})
		if got := e.tags("402"); !stdslices.Equal(got, []string{"fcr"}) {
			t.Errorf("ticket 402 tags %v, want [fcr]", got)
		}
		// The contact is marked done a moment before its job ends; a retry of
		// a job that is not failed changes nothing (409), so it can be asked
		// until the job is gone.
		eventually(t, 2*time.Second, "a retry of the finished job refused with 404", func() bool {
			code, _ := e.api(http.MethodPost, "/api/v1/writeback/"+id+"/retry")
			return code == 404
		})
	})
}

// TestWritebackFreshdesk: a Freshdesk webhook is only a trigger; the look-up
// reads the ticket through the API, and the evaluation's write-back merges
// repeat_contact into the ticket's tags (the foreign ones stay) and adds one
// private note.
func TestWritebackFreshdesk(t *testing.T) {
	storetest.EachURL(t, func(t *testing.T, url string) {
		e := newWBEnv(t, url)
		fd := freshdesktest.New(t)
		now := time.Now().Truncate(time.Second)
		fd.AddTicket(freshdesktest.Ticket{ID: 11, Status: 4, RequesterEmail: "fay@example.com",
			CreatedAt: now.Add(-72 * time.Hour), ResolvedAt: now.Add(-71 * time.Hour), UpdatedAt: now.Add(-71 * time.Hour)})
		fd.AddTicket(freshdesktest.Ticket{ID: 12, Status: 2, RequesterEmail: "fay@example.com", Tags: []string{"vip"},
			CreatedAt: now.Add(-time.Hour)})
		// Look-ups and write-back share the budget; a large plan keeps the test quick.
		e.start(map[string]string{"FRESHDESK_API_URL": fd.URL, "FRESHDESK_API_KEY": fd.APIKey,
			"FRESHDESK_WEBHOOK_SECRET": "fd-secret", "FRESHDESK_REQUESTS_PER_MINUTE": "700"})
		for _, id := range []int{11, 12} {
			body := fmt.Sprintf(`{"ticket_id": %d, "event": "{status:{from:2,to:4}}", "requester_email": "fay@example.com"}`, id)
			req, _ := http.NewRequest(http.MethodPost, e.base+"/webhooks/freshdesk", strings.NewReader(body))
			req.Header.Set("X-Recontact-Secret", "fd-secret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("freshdesk webhook %d: %d", id, resp.StatusCode)
			}
		}
		tags := func(id int64) []string {
			tk, _ := fd.Ticket(id)
			return stdslices.Sorted(stdslices.Values(tk.Tags))
		}
		eventually(t, 10*time.Second, "both tickets tagged", func() bool {
			return stdslices.Equal(tags(12), []string{"repeat_contact", "vip"}) && stdslices.Equal(tags(11), []string{"not_fcr"}) &&
				len(fd.Notes(12)) == 1
		})
		if n := fd.Notes(12)[0]; !n.Private || !n.PrivateSent || !strings.Contains(n.Body, "#11") {
			t.Errorf("note %+v; want one explicitly private note naming #11", n)
		}
		if n := len(fd.Notes(11)); n != 0 {
			t.Errorf("ticket 11 got %d notes; it is no repeat", n)
		}
		eventually(t, 2*time.Second, "write-back recorded", func() bool {
			_, tk := e.api(http.MethodGet, "/api/v1/tickets/freshdesk/12")
			return tk["writeback"] == "done"
		})
	})
}
