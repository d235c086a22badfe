package main

import (
	"fmt"
	"os"
	"path"
	stdslices "slices" // config.go declares a func named slices
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/recontact/recontact/connectors/zendesk/zendesktest"
	"github.com/recontact/recontact/store/storetest"
)

// TestWritebackLatency measures, through the whole of `recontact serve` with
// its default budgets, the time from a Zendesk webhook's 2xx to the
// repeat_contact tag on the fake ticket, in steady state under the budget:
// one repeat contact every 3 s (tag and note: 40 of write-back's 50 ticket
// updates a minute). Opt-in, being slow:
//
//	WRITEBACK_BENCH=1 go test ./cmd/recontact -run TestWritebackLatency -v -timeout 20m
//
// WRITEBACK_BENCH_N (default 100) is the number of webhooks per store.
func TestWritebackLatency(t *testing.T) {
	if os.Getenv("WRITEBACK_BENCH") == "" {
		t.Skip("set WRITEBACK_BENCH=1 to run (about 5 minutes per store)")
	}
	n := 100
	if v, err := strconv.Atoi(os.Getenv("WRITEBACK_BENCH_N")); err == nil && v > 0 {
		n = v
	}
	const every = 3 * time.Second
	var rows []string
	storetest.EachURL(t, func(t *testing.T, url string) {
		e := newWBEnv(t, url)
		now := time.Now().Truncate(time.Second)
		// Each customer's first ticket: open, so it needs no tag of its own.
		for i := range n {
			e.zd.AddTicket(zendesktest.Ticket{ID: strconv.Itoa(1000 + i), Status: "open", CreatedAt: now.Add(-48 * time.Hour)})
			e.zd.AddTicket(zendesktest.Ticket{ID: strconv.Itoa(5000 + i), Status: "open", CreatedAt: now.Add(-time.Hour)})
		}
		e.start(nil)
		for i := range n {
			e.webhook(strconv.Itoa(1000+i), fmt.Sprintf("l%d@example.com", i), "Open", now.Add(-48*time.Hour), now.Add(-48*time.Hour))
		}
		time.Sleep(2 * time.Second) // their evaluations settle; nothing to write
		if w := e.writes(); w != 0 {
			t.Fatalf("the first tickets caused %d writes", w)
		}

		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		for i := range n {
			id := strconv.Itoa(5000 + i)
			start := time.Now()
			e.webhook(id, fmt.Sprintf("l%d@example.com", i), "Open", now.Add(-time.Hour), now.Add(-time.Hour))
			acked := time.Now()
			wg.Go(func() {
				for time.Since(acked) < 60*time.Second {
					if stdslices.Contains(e.tags(id), "repeat_contact") {
						mu.Lock()
						lat = append(lat, time.Since(acked))
						mu.Unlock()
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
			time.Sleep(time.Until(start.Add(every)))
		}
		wg.Wait()
		stdslices.Sort(lat)
		if len(lat) == 0 {
			t.Fatal("no ticket was tagged")
		}
		pct := func(p float64) time.Duration {
			return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(time.Millisecond)
		}
		rows = append(rows, fmt.Sprintf("| %s | %d | %d | %s | %s | %s | %s | %d |", path.Base(t.Name()), n, n-len(lat),
			pct(0.5), pct(0.9), pct(0.99), lat[len(lat)-1].Round(time.Millisecond), e.zd.Throttled()))
		if len(lat) < n {
			t.Errorf("%d of %d tickets not tagged within 60 s", n-len(lat), n)
		}
		if p := pct(0.99); p > 5*time.Second {
			t.Errorf("p99 %s, want under 5 s", p)
		}
	})
	fmt.Printf("\nwebhook 2xx → repeat_contact on the ticket, one repeat contact every %s, default budgets\n", every)
	fmt.Println("| store | webhooks | not tagged in 60 s | p50 | p90 | p99 | max | 429s |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Println(r)
	}
}
