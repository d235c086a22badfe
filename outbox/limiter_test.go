package outbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/recontact/recontact/outbox"
	"github.com/recontact/recontact/worker"
)

func TestLimiterShare(t *testing.T) {
	l := outbox.NewZendeskLimiter(200, 100, 0.5)
	req, upd := l.PerMinute()
	if req != 100 || upd != 50 {
		t.Errorf("PerMinute = %v, %v; want 100, 50 (half of 200 and 100)", req, upd)
	}
	f := outbox.NewFreshdeskLimiter(50, 0.5)
	if req, upd := f.PerMinute(); req != 25 || upd != 0 {
		t.Errorf("freshdesk PerMinute = %v, %v; want 25, 0", req, upd)
	}
	// The account reports a smaller plan than configured: the share applies to that.
	l.Observe(outbox.RateState{Status: 200, Limit: 100, Remaining: 99, Reset: 0, UpdatesLimit: -1, UpdatesRemaining: -1})
	if req, _ := l.PerMinute(); req != 50 {
		t.Errorf("after X-Rate-Limit: 100, requests per minute = %v, want 50", req)
	}
}

func TestLimiterSlowsWhenOthersUseTheBudget(t *testing.T) {
	l := outbox.NewZendeskLimiter(700, 100, 0.5)
	// Alone, a fresh window: our share of what is left over the time left is
	// no less than our base rate, so nothing changes.
	l.Observe(outbox.RateState{Status: 200, Limit: 700, Remaining: 699, Reset: 59 * time.Second,
		UpdatesLimit: 100, UpdatesRemaining: 99, UpdatesReset: 59 * time.Second})
	if req, upd := l.PerMinute(); req != 350 || upd != 50 {
		t.Errorf("alone: PerMinute = %v, %v; want 350, 50", req, upd)
	}
	// Others used most of the ticket updates with 30 s to go: 10 left, half
	// of them ours over 30 s is 10 a minute.
	l.Observe(outbox.RateState{Status: 200, Limit: 700, Remaining: 600, Reset: 30 * time.Second,
		UpdatesLimit: 100, UpdatesRemaining: 10, UpdatesReset: 30 * time.Second})
	if _, upd := l.PerMinute(); upd < 9.9 || upd > 10.1 {
		t.Errorf("busy account: updates per minute = %v, want 10", upd)
	}
	// None left: pause until the reset.
	l.Observe(outbox.RateState{Status: 200, Limit: 700, Remaining: 0, Reset: 20 * time.Second,
		UpdatesLimit: -1, UpdatesRemaining: -1})
	if p := l.PausedFor(); p < 19*time.Second || p > 20*time.Second {
		t.Errorf("no budget left: PausedFor = %v, want about 20s", p)
	}
}

func TestLimiterFreshdeskHeaders(t *testing.T) {
	// Freshdesk reports a limit and what is left, never when it resets.
	l := outbox.NewFreshdeskLimiter(400, 0.5)
	l.Observe(outbox.RateState{Status: 200, Limit: 200, Remaining: 150, UpdatesLimit: -1, UpdatesRemaining: -1})
	if req, _ := l.PerMinute(); req != 100 {
		t.Errorf("plan of 200 reported: %v a minute, want 100", req)
	}
	// Our own use lowers Remaining: no slow-down while a tenth is left.
	l.Observe(outbox.RateState{Status: 200, Limit: 200, Remaining: 25, UpdatesLimit: -1, UpdatesRemaining: -1})
	if req, _ := l.PerMinute(); req != 100 {
		t.Errorf("25 of 200 left: %v a minute, want 100", req)
	}
	l.Observe(outbox.RateState{Status: 200, Limit: 200, Remaining: 10, UpdatesLimit: -1, UpdatesRemaining: -1})
	if req, _ := l.PerMinute(); req != 5 {
		t.Errorf("10 of 200 left: %v a minute, want half of 10", req)
	}
	// None left and no reset time: probe once in 10 s rather than stop.
	l.Observe(outbox.RateState{Status: 200, Limit: 200, Remaining: 0, UpdatesLimit: -1, UpdatesRemaining: -1})
	if req, _ := l.PerMinute(); req != 6 || l.PausedFor() != 0 {
		t.Errorf("none left: %v a minute, paused %v; want 6 and no pause", req, l.PausedFor())
	}
	// Plenty again: back to the base rate.
	l.Observe(outbox.RateState{Status: 200, Limit: 200, Remaining: 199, UpdatesLimit: -1, UpdatesRemaining: -1})
	if req, _ := l.PerMinute(); req != 100 {
		t.Errorf("new window: %v a minute, want 100", req)
	}
}

func TestLimiterPausesOn429(t *testing.T) {
	l := outbox.NewZendeskLimiter(200, 100, 0.5)
	l.Observe(outbox.RateState{Status: 429, Limit: -1, Remaining: -1, UpdatesLimit: -1, UpdatesRemaining: -1, RetryAfter: 30 * time.Second})
	if p := l.PausedFor(); p < 29*time.Second || p > 30*time.Second {
		t.Errorf("PausedFor = %v, want about 30s", p)
	}
	if l.Throttled() != 1 {
		t.Errorf("Throttled = %d, want 1", l.Throttled())
	}
	// A pause longer than a few seconds goes back to the queue: Wait does not sleep on it.
	start := time.Now()
	err := l.Wait(t.Context(), true, "1")
	var ra worker.RetryAfter
	if !errors.As(err, &ra) || ra.RetryDelay() < 29*time.Second {
		t.Fatalf("Wait during a 30 s pause = %v, want a RetryAfter of about 30 s", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("Wait slept %v during a long pause", time.Since(start))
	}
}

func TestLimiterWaitsWithinDeadline(t *testing.T) {
	// 60 updates a minute at share 1: one a second, burst 3.
	l := outbox.NewZendeskLimiter(6000, 60, 1)
	for range 3 {
		if err := l.Wait(t.Context(), true); err != nil {
			t.Fatalf("burst: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := l.Wait(ctx, true)
	var ra worker.RetryAfter
	if !errors.As(err, &ra) {
		t.Fatalf("Wait past the deadline = %v, want a RetryAfter error", err)
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Errorf("Wait took %v before giving up; it should give up at once", time.Since(start))
	}
	// The refused call took nothing: the next token comes on time.
	start = time.Now()
	if err := l.Wait(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 1100*time.Millisecond {
		t.Errorf("next token after %v, want at most 1s", d)
	}
}

func TestLimiterPerTicket(t *testing.T) {
	l := outbox.NewZendeskLimiter(1_000_000, 1_000_000, 1)
	for i := range 30 {
		if err := l.Wait(t.Context(), true, "7"); err != nil {
			t.Fatalf("update %d of ticket 7: %v", i+1, err)
		}
	}
	err := l.Wait(t.Context(), true, "7")
	var ra worker.RetryAfter
	if !errors.As(err, &ra) || ra.RetryDelay() < 9*time.Minute {
		t.Fatalf("31st update of a ticket in 10 minutes = %v, want a wait of about 10 minutes", err)
	}
	if err := l.Wait(t.Context(), true, "8"); err != nil {
		t.Errorf("another ticket: %v", err)
	}
	if err := l.Wait(t.Context(), false, "7"); err != nil {
		t.Errorf("a read of ticket 7: %v", err)
	}
}
