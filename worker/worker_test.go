package worker_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
	"github.com/recontact/recontact/worker"
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.DropTemplates()
	os.Exit(code)
}

type later time.Duration

func (l later) Error() string             { return "rate limited" }
func (l later) RetryDelay() time.Duration { return time.Duration(l) }

func TestRunner(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var mu sync.Mutex // the runner runs jobs concurrently
		calls := map[string]int{}
		r := &worker.Runner{Store: s, MaxAttempts: 2, Funcs: map[string]worker.Func{
			recontact.JobAlert: func(ctx context.Context, j *store.QueuedJob) error {
				mu.Lock()
				calls[j.Key]++
				mu.Unlock()
				switch j.Key {
				case "ok":
					return nil
				case "gone":
					return worker.Drop(errors.New("ticket deleted"))
				case "limited":
					return later(time.Hour)
				}
				return errors.New("helpdesk down")
			},
		}}
		for _, k := range []string{"ok", "gone", "limited", "down"} {
			if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobAlert, Key: k}); err != nil {
				t.Fatal(err)
			}
		}
		kinds := []string{recontact.JobAlert}
		if n, err := r.RunOnce(ctx, kinds); err != nil || n != 4 {
			t.Fatalf("first pass ran %d, %v", n, err)
		}
		pending, _ := s.Jobs(ctx, kinds, store.JobPending, 10)
		if len(pending) != 2 {
			t.Fatalf("pending after first pass: %d, want limited and down", len(pending))
		}
		for _, j := range pending {
			if j.Key == "limited" && j.RunAt().Before(time.Now().Add(59*time.Minute)) {
				t.Errorf("limited job due %v; want an hour out (Retry-After)", j.RunAt())
			}
		}
		// Make the failing one due again: its second failure dead-letters it.
		if _, err := s.DB().Exec(s.DB().Rebind(`UPDATE jobs SET run_at_ms = 0 WHERE key = ?`), "down"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.RunOnce(ctx, kinds); err != nil {
			t.Fatal(err)
		}
		failed, _ := s.Jobs(ctx, kinds, store.JobFailed, 10)
		if len(failed) != 1 || failed[0].Key != "down" || failed[0].LastError != "helpdesk down" {
			t.Fatalf("dead letter %+v; want the down job with its error", failed)
		}
		if calls["ok"] != 1 || calls["gone"] != 1 {
			t.Errorf("completed or dropped jobs ran again: %v", calls)
		}
	})
}

func TestBackoffGrowsAndCaps(t *testing.T) {
	for attempt, bounds := range map[int][2]time.Duration{1: {time.Second, 2 * time.Second}, 3: {4 * time.Second, 8 * time.Second}, 30: {5 * time.Minute, 10 * time.Minute}} {
		for range 50 {
			if d := worker.Backoff(attempt); d < bounds[0] || d > bounds[1] {
				t.Fatalf("Backoff(%d) = %v, want within %v", attempt, d, bounds)
			}
		}
	}
}

// A backlog larger than one pass drains without waiting for a wake-up, even
// when its customers have several changed contacts each (a pass takes marks,
// and reports them, not customers).
func TestEvaluatorDrainsABacklog(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		t0 := time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)
		for i := range 600 { // 300 customers, two tickets each: 600 marks
			c := &recontact.Contact{Source: recontact.SourceZendesk, TicketID: fmt.Sprint(i), CustomerEmail: fmt.Sprintf("c%d@example.com", i/2),
				Status: recontact.StatusOpen, CreatedAt: t0.Add(time.Duration(i) * time.Minute), UpdatedAt: t0, Channel: "email"}
			if _, err := s.Ingest(ctx, &recontact.Delivery{Source: c.Source, Key: c.TicketID, Body: []byte(`{}`), Contact: c, ReceivedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		marks := func() (n int) {
			if err := s.DB().GetContext(ctx, &n, `SELECT COUNT(*) FROM marks`); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := marks(); n != 600 {
			t.Fatalf("%d marks before evaluation; want 600", n)
		}
		e := &worker.Evaluator{Store: s, Poll: time.Hour, Coalesce: time.Hour}
		go e.Run(ctx)
		for end := time.Now().Add(20 * time.Second); marks() > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("%d marks left after 20 s with no wake-up; want the backlog drained", marks())
			}
		}
	})
}
