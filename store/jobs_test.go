package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

func TestJobQueue(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := t0
		s.Now = func() time.Time { return now }
		kinds := []string{recontact.JobWriteback}
		// A burst for one key coalesces into one pending job.
		for range 3 {
			if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobWriteback, Key: "zendesk:1"}); err != nil {
				t.Fatal(err)
			}
		}
		jobs, err := s.Claim(ctx, kinds, 10, time.Minute)
		if err != nil || len(jobs) != 1 || jobs[0].Attempts != 1 {
			t.Fatalf("claim: %+v, %v; want one job, attempt 1", jobs, err)
		}
		// News while it runs queues a fresh pending job beside the running one.
		if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobWriteback, Key: "zendesk:1"}); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Queue(ctx, kinds); st.Pending != 1 || st.Running != 1 {
			t.Fatalf("queue %+v; want one running and one fresh pending", st)
		}
		// The running one fails; its pending twin carries the work, so it is dropped.
		if err := s.Retry(ctx, &jobs[0], now.Add(time.Minute), errors.New("boom"), 10); err != nil {
			t.Fatal(err)
		}
		if st, _ := s.Queue(ctx, kinds); st.Pending != 1 || st.Running != 0 {
			t.Errorf("queue %+v; want only the pending twin", st)
		}
	})
}

func TestJobLeaseRetryAndDeadLetter(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := t0
		s.Now = func() time.Time { return now }
		kinds := []string{recontact.JobAlert}
		if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobAlert, Key: "a"}); err != nil {
			t.Fatal(err)
		}
		j, _ := s.Claim(ctx, kinds, 1, time.Minute)
		// The worker dies: nothing is claimable until the lease runs out.
		if again, _ := s.Claim(ctx, kinds, 1, time.Minute); len(again) != 0 {
			t.Fatal("claimed a leased job")
		}
		now = now.Add(2 * time.Minute)
		j, _ = s.Claim(ctx, kinds, 1, time.Minute)
		if len(j) != 1 || j[0].Attempts != 2 {
			t.Fatalf("after the lease: %+v; want the job back at attempt 2", j)
		}
		if err := s.Retry(ctx, &j[0], now.Add(time.Hour), errors.New("still down"), 2); err != nil {
			t.Fatal(err)
		}
		failed, err := s.Jobs(ctx, kinds, store.JobFailed, 10)
		if err != nil || len(failed) != 1 || failed[0].LastError != "still down" {
			t.Fatalf("dead letter: %+v, %v", failed, err)
		}
		if err := s.RetryFailed(ctx, failed[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RetryFailed(ctx, failed[0].ID); recontact.ErrorCode(err) != recontact.EConflict {
			t.Errorf("retrying a pending job: %v, want conflict", err)
		}
		if err := s.RetryFailed(ctx, 999999); recontact.ErrorCode(err) != recontact.ENotFound {
			t.Errorf("retrying an unknown job: %v, want not found", err)
		}
		j, _ = s.Claim(ctx, kinds, 1, time.Minute)
		if len(j) != 1 || j[0].Attempts != 1 {
			t.Fatalf("after admin retry: %+v; want attempt 1", j)
		}
	})
}

// TestClaimNeverDoubleTakes: concurrent claimers (instances) split the jobs.
func TestClaimNeverDoubleTakes(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for i := range 200 {
			if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobWriteback, Key: fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					jobs, err := s.Claim(ctx, []string{recontact.JobWriteback}, 7, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if len(jobs) == 0 {
						return
					}
					mu.Lock()
					for _, j := range jobs {
						seen[j.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != 200 {
			t.Fatalf("claimed %d distinct jobs, want 200", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("job %d claimed %d times", id, n)
			}
		}
	})
}
