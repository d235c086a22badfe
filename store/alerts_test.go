package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

// TestFlipAlert: only a change of state flips and queues its job; clearing an
// alert that never fired is no change.
func TestFlipAlert(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		job := func(key string) recontact.Job { return recontact.Job{Kind: recontact.JobAlert, Key: key} }
		steps := []struct {
			key    string
			firing bool
			flips  bool
		}{
			{"fcr_rate_below:", false, false}, // never fired: nothing to resolve
			{"fcr_rate_below:", true, true},
			{"fcr_rate_below:", true, false},
			{"contact_ratio_high:a:b", true, true}, // a partner key may hold colons
			{"fcr_rate_below:", false, true},
			{"fcr_rate_below:", false, false},
			{"fcr_rate_below:", true, true},
		}
		for i, st := range steps {
			flipped, err := s.FlipAlert(ctx, st.key, st.firing, job(st.key+string(rune('0'+i))))
			if err != nil || flipped != st.flips {
				t.Fatalf("step %d %+v: flipped %v (%v)", i, st, flipped, err)
			}
		}
		jobs, err := s.Jobs(ctx, []string{recontact.JobAlert}, store.JobPending, 100)
		if err != nil || len(jobs) != 4 {
			t.Fatalf("%d jobs queued (%v), want one per flip (4)", len(jobs), err)
		}
		firing, err := s.FiringAlerts(ctx)
		if err != nil || !slices.Equal(firing, []string{"contact_ratio_high:a:b", "fcr_rate_below:"}) {
			t.Fatalf("firing %q (%v)", firing, err)
		}

		// Dead letters by kind.
		claimed, err := s.Claim(ctx, []string{recontact.JobAlert}, 1, time.Minute)
		if err != nil || len(claimed) != 1 {
			t.Fatal(claimed, err)
		}
		if err := s.Retry(ctx, &claimed[0], time.Now(), errors.New("down"), 1); err != nil {
			t.Fatal(err)
		}
		dead, err := s.DeadLetters(ctx)
		if err != nil || len(dead) != 1 || dead[recontact.JobAlert] != 1 {
			t.Fatalf("dead letters %v (%v)", dead, err)
		}
	})
}
