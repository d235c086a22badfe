package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

func (e *env) post(path string) reply {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return e.do(req)
}

// TestWritebackAPI covers the admin write-back endpoints' answers on both
// stores: bad input, unknown and non-write-back ids, a job that is not
// failed, and the dead letter's listing and retry.
func TestWritebackAPI(t *testing.T) {
	opts := store.Options{Writeback: map[recontact.Source]bool{recontact.SourceZendesk: true}}
	storetest.Each(t, opts, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		ctx := context.Background()

		wantStatus(t, e.get("/api/v1/writeback?state=failed", ""), 401, "admin token")
		wantStatus(t, e.get("/api/v1/writeback?state=lost", adminToken), 400, "state must be")
		wantStatus(t, e.get("/api/v1/writeback?state=failed&limit=0", adminToken), 400, "limit")
		wantStatus(t, e.post("/api/v1/writeback/abc/retry"), 400, "id must be")
		wantStatus(t, e.post("/api/v1/writeback/999999/retry"), 404, "no write-back job")

		// A webhook's evaluation queues the ticket's write-back.
		wantStatus(t, e.zendesk(triggerBody), 200, "")
		if _, err := s.EvaluateDirty(ctx, 10); err != nil {
			t.Fatal(err)
		}
		if r := e.get("/api/v1/tickets/zendesk/101", adminToken); r.body["writeback"] != "pending" {
			t.Errorf("ticket API writeback %v, want pending", r.body["writeback"])
		}
		pending := e.get("/api/v1/writeback?state=pending", adminToken)
		items, _ := pending.body["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("pending: %s", pending.raw)
		}
		it := items[0].(map[string]any)
		if it["ticket_id"] != "101" || it["source"] != "zendesk" || it["id"] == nil {
			t.Fatalf("pending item %v", it)
		}
		id := fmt.Sprint(int64(it["id"].(float64)))
		wantStatus(t, e.post("/api/v1/writeback/"+id+"/retry"), 409, "only failed jobs")

		// An enrichment job's id is no write-back job.
		if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobZendeskRequester, Key: "55"}); err != nil {
			t.Fatal(err)
		}
		other, err := s.Jobs(ctx, []string{recontact.JobZendeskRequester}, store.JobPending, 1)
		if err != nil || len(other) != 1 {
			t.Fatalf("enrichment job: %v %v", other, err)
		}
		wantStatus(t, e.post(fmt.Sprintf("/api/v1/writeback/%d/retry", other[0].ID)), 404, "no write-back job")

		// The job fails for good (as the outbox records it).
		jobs, err := s.Claim(ctx, []string{recontact.JobWriteback}, 10, time.Minute)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %v %v", jobs, err)
		}
		if err := s.Retry(ctx, &jobs[0], time.Now(), errors.New("zendesk answered 502"), 1); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkWritten(ctx, recontact.SourceZendesk, "101", nil, false, store.WritebackFailed, "zendesk answered 502"); err != nil {
			t.Fatal(err)
		}
		failed := e.get("/api/v1/writeback?state=failed", adminToken)
		items, _ = failed.body["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("failed: %s", failed.raw)
		}
		it = items[0].(map[string]any)
		if fmt.Sprint(int64(it["id"].(float64))) != id || it["attempts"] != 1.0 || it["last_error"] != "zendesk answered 502" || it["updated_at"] == nil {
			t.Errorf("dead letter item %v", it)
		}
		if r := e.get("/api/v1/tickets/zendesk/101", adminToken); r.body["writeback"] != "failed" || r.body["writeback_error"] != "zendesk answered 502" {
			t.Errorf("ticket API: %v / %v", r.body["writeback"], r.body["writeback_error"])
		}

		r := e.post("/api/v1/writeback/" + id + "/retry")
		wantStatus(t, r, 200, "")
		if r.body["state"] != "pending" || r.body["attempts"] != 0.0 || r.body["ticket_id"] != "101" || r.body["source"] != "zendesk" {
			t.Errorf("retry answered %s", r.raw)
		}
		if r := e.get("/api/v1/tickets/zendesk/101", adminToken); r.body["writeback"] != "pending" {
			t.Errorf("after the retry the ticket's writeback is %v, want pending", r.body["writeback"])
		}
		wantStatus(t, e.post("/api/v1/writeback/"+id+"/retry"), 409, "only failed jobs")

		// Done and dry-run write-backs list under done; a dry run is "off"
		// on the ticket, with its plan.
		if err := s.MarkWritten(ctx, recontact.SourceZendesk, "101", nil, false, store.WritebackDryRun, "dry-run: would add fcr"); err != nil {
			t.Fatal(err)
		}
		done := e.get("/api/v1/writeback?state=done", adminToken)
		items, _ = done.body["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["plan"] != "dry-run: would add fcr" || items[0].(map[string]any)["state"] != "dry-run" {
			t.Errorf("done: %s", done.raw)
		}
		tk := e.get("/api/v1/tickets/zendesk/101", adminToken)
		if tk.body["writeback"] != "off" || tk.body["writeback_error"] != "dry-run: would add fcr" {
			t.Errorf("ticket API in dry-run: %v / %v", tk.body["writeback"], tk.body["writeback_error"])
		}
		if err := s.MarkWritten(ctx, recontact.SourceZendesk, "101", []string{"fcr", "repeat_contact"}, true, store.WritebackDone, ""); err != nil {
			t.Fatal(err)
		}
		tk = e.get("/api/v1/tickets/zendesk/101", adminToken)
		if tk.body["writeback"] != "done" || fmt.Sprint(tk.body["tags_written"]) != "[fcr repeat_contact]" || tk.body["writeback_error"] != nil {
			t.Errorf("ticket API when done: %s", tk.raw)
		}
	})
}
