package alerts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/alerts"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
	"github.com/recontact/recontact/worker"
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.DropTemplates()
	os.Exit(code)
}

var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// clock is a settable store clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func f(v float64) *float64 { return &v }

// totals derives rates from counts the way the store does.
func totals(contacts, bookings, customers, repeat, resolved, fcr int) metrics.Totals {
	t := metrics.Totals{Contacts: contacts, Bookings: bookings, Customers: customers, RepeatCustomers: repeat,
		Resolved: resolved, FirstContactResolved: fcr}
	t.Derive(metrics.DefaultSettings())
	return t
}

func group(key string, t metrics.Totals) metrics.Group { return metrics.Group{Key: &key, Totals: t} }

// queued returns the alert messages queued so far, oldest first.
func queued(t *testing.T, s *store.Store) []alerts.Message {
	t.Helper()
	jobs, err := s.Jobs(context.Background(), []string{recontact.JobAlert}, store.JobPending, 1000)
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(jobs)
	var out []alerts.Message
	for _, j := range jobs {
		var m alerts.Message
		if err := json.Unmarshal([]byte(j.Payload), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func describe(m alerts.Message) string {
	p := "*"
	if m.Partner != nil {
		p = *m.Partner
	}
	return m.State + " " + m.Rule + " " + p
}

// TestCrossings feeds a sequence of readings and checks that only changes of
// state queue messages: enter, stay, leave, stay, re-enter, vanish.
func TestCrossings(t *testing.T) {
	steps := []struct {
		name   string
		totals metrics.Totals
		groups []metrics.Group
		want   []string
	}{
		{"quiet", totals(10, 200, 10, 1, 10, 8), []metrics.Group{group("a", totals(5, 100, 5, 0, 5, 4))}, nil},
		{"enter", totals(10, 200, 10, 3, 10, 5), []metrics.Group{group("a", totals(30, 100, 5, 0, 5, 4))},
			[]string{"firing repeat_contact_rate_above *", "firing fcr_rate_below *", "firing contact_ratio_high a"}},
		{"stay", totals(12, 200, 10, 4, 10, 5), []metrics.Group{group("a", totals(31, 100, 5, 0, 5, 4))}, nil},
		{"leave", totals(12, 200, 10, 1, 10, 9), []metrics.Group{group("a", totals(3, 100, 5, 0, 5, 4))},
			[]string{"resolved repeat_contact_rate_above *", "resolved fcr_rate_below *", "resolved contact_ratio_high a"}},
		{"stay clear", totals(12, 200, 10, 1, 10, 9), []metrics.Group{group("a", totals(3, 100, 5, 0, 5, 4))}, nil},
		{"re-enter", totals(12, 200, 10, 3, 10, 9), []metrics.Group{group("a", totals(20, 100, 5, 0, 5, 4))},
			[]string{"firing repeat_contact_rate_above *", "firing contact_ratio_high a"}},
		// Partner a has no contacts any more and the overall rates are undefined.
		{"vanish", metrics.Totals{}, nil,
			[]string{"resolved repeat_contact_rate_above *", "resolved contact_ratio_high a"}},
		{"empty stays quiet", metrics.Totals{}, nil, nil},
	}
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		clk := &clock{t: t0}
		s.Now = clk.now
		var step int
		c := &alerts.Checker{Store: s, RepeatRateAbove: f(0.2), FCRRateBelow: f(0.6), Window: 7 * 24 * time.Hour,
			Read: func(context.Context, time.Time, time.Time) (metrics.Totals, []metrics.Group, error) {
				return steps[step].totals, steps[step].groups, nil
			}}
		seen := 0
		for step = range steps {
			clk.add(time.Minute)
			n, err := c.Check(context.Background())
			if err != nil {
				t.Fatalf("%s: %v", steps[step].name, err)
			}
			all := queued(t, s)
			var got []string
			for _, m := range all[seen:] {
				got = append(got, describe(m))
			}
			seen = len(all)
			if n != len(got) || !slices.Equal(got, steps[step].want) {
				t.Errorf("%s: queued %d %q, want %q", steps[step].name, n, got, steps[step].want)
			}
		}
		msgs := queued(t, s)
		first := msgs[0]
		if first.Threshold != 0.2 || first.Value == nil || *first.Value != 0.3 || first.Window != "7d" ||
			!first.To.Equal(t0.Add(2*time.Minute)) || !first.From.Equal(first.To.Add(-7*24*time.Hour)) || first.Partner != nil {
			t.Errorf("first message fields: %+v", first)
		}
		if want := ":rotating_light: recontact: repeat contact rate for all partners is 30.0%, above 20.0% (trailing 7d to 2026-11-20 12:02 UTC)"; first.Text != want {
			t.Errorf("text %q, want %q", first.Text, want)
		}
	})
}

// TestNoDoubleSend runs several checkers (as several instances would) at once
// against one store: each crossing is queued once.
func TestNoDoubleSend(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		read := func(context.Context, time.Time, time.Time) (metrics.Totals, []metrics.Group, error) {
			return totals(10, 200, 10, 5, 10, 5), nil, nil
		}
		var wg sync.WaitGroup
		var total atomic.Int64
		for range 4 {
			c := &alerts.Checker{Store: s, RepeatRateAbove: f(0.2), Read: read}
			wg.Go(func() {
				n, err := c.Check(context.Background())
				if err != nil {
					t.Error(err)
				}
				total.Add(int64(n))
			})
		}
		wg.Wait()
		if got := len(queued(t, s)); got != 1 || total.Load() != 1 {
			t.Errorf("queued %d messages (checkers reported %d), want 1", got, total.Load())
		}
	})
}

// seed makes partner-a's contact ratio high (3 contacts, 10 bookings) with
// one repeat customer, over real ingest and evaluation.
func seed(t *testing.T, s *store.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for i := range 10 {
		email := fmt.Sprintf("guest%d@example.com", i)
		at := now.Add(-time.Duration(i+1) * 10 * time.Hour)
		d := &recontact.Delivery{Source: recontact.SourceBookings, Key: fmt.Sprintf("bk-%d", i), ReceivedAt: at,
			Booking: &recontact.Booking{ID: fmt.Sprintf("bk-%d", i), Partner: "partner-a", CustomerEmail: email, CustomerKey: email,
				CreatedAt: at, CheckIn: "2026-12-01", CheckOut: "2026-12-03", Status: "confirmed", UpdatedAt: at}}
		if _, err := s.Ingest(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for i, email := range []string{"guest1@example.com", "guest1@example.com", "guest2@example.com"} {
		at := now.Add(-time.Duration(i+1) * time.Hour)
		id := fmt.Sprint(100 + i)
		d := &recontact.Delivery{Source: recontact.SourceZendesk, Key: "zd-" + id, ReceivedAt: at,
			Contact: &recontact.Contact{Source: recontact.SourceZendesk, TicketID: id, CustomerEmail: email, Partner: "partner-a",
				Channel: "email", Status: recontact.StatusOpen, CreatedAt: at, UpdatedAt: at}}
		if _, err := s.Ingest(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := (&worker.Evaluator{Store: s}).Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

// receiver is an alert webhook that fails the first `fail` posts with 500.
type receiver struct {
	mu    sync.Mutex
	fail  int
	posts int
	got   []alerts.Message
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.posts++
	if r.posts <= r.fail {
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	body, _ := io.ReadAll(req.Body)
	var m alerts.Message
	if req.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &m) != nil {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	r.got = append(r.got, m)
}

func (r *receiver) messages() []alerts.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// quickClient retries inside one attempt without real waits.
func quickClient(retries int) *retryablehttp.Client {
	c := worker.NewAlertClient()
	c.RetryMax = retries
	c.RetryWaitMin, c.RetryWaitMax = time.Millisecond, time.Millisecond
	return c
}

// TestEndToEnd: real data, the checker, the job runner and an HTTP receiver
// that answers 500 first. The message arrives once, on the job queue's
// second attempt; checking again sends nothing more.
func TestEndToEnd(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		// The runner schedules retries by the real clock, so this one starts now.
		clk := &clock{t: time.Now()}
		s.Now = clk.now
		seed(t, s, clk.now())
		rcv := &receiver{fail: 1}
		srv := httptest.NewServer(rcv)
		defer srv.Close()
		runner := &worker.Runner{Store: s, MaxAttempts: 5,
			Funcs: (&worker.Alerts{URL: srv.URL, Client: quickClient(0)}).Funcs()}
		c := &alerts.Checker{Store: s, RepeatRateAbove: f(0.9)}
		// The ratio, 3 contacts / 10 bookings = 0.3, is high for partner-a and
		// for all partners together; the repeat rate 0.5 stays under 0.9.
		if n, err := c.Check(ctx); err != nil || n != 2 {
			t.Fatalf("check queued %d (%v), want 2", n, err)
		}
		kinds := []string{recontact.JobAlert}
		if n, err := runner.RunOnce(ctx, kinds); err != nil || n != 2 {
			t.Fatalf("ran %d jobs (%v)", n, err)
		}
		if len(rcv.messages()) != 1 {
			t.Fatalf("received %d messages, want 1 (the other got a 500)", len(rcv.messages()))
		}
		clk.add(time.Hour) // past the job's backoff
		if n, err := runner.RunOnce(ctx, kinds); err != nil || n != 1 {
			t.Fatalf("retry ran %d jobs (%v)", n, err)
		}
		got := rcv.messages()
		slices.SortFunc(got, func(a, b alerts.Message) int { return len(describe(a)) - len(describe(b)) })
		if len(got) != 2 || got[0].Partner != nil || got[1].Partner == nil || *got[1].Partner != "partner-a" {
			t.Fatalf("received %+v", got)
		}
		for _, m := range got {
			if m.Rule != alerts.RuleContactRatioHigh || m.State != alerts.Firing || m.Value == nil || *m.Value != 0.3 || m.Threshold != 0.15 {
				t.Errorf("received %+v", m)
			}
		}
		if n, err := c.Check(ctx); err != nil || n != 0 {
			t.Fatalf("second check queued %d (%v), want 0", n, err)
		}
		if st, err := s.Queue(ctx, kinds); err != nil || st.Pending+st.Running+st.Failed != 0 {
			t.Fatalf("queue after delivery: %+v %v", st, err)
		}
		// 27 days on, the window holds nothing: both clear, once each.
		clk.add(27 * 24 * time.Hour)
		if n, err := c.Check(ctx); err != nil || n != 2 {
			t.Fatalf("clearing check queued %d (%v), want 2", n, err)
		}
		if _, err := runner.RunOnce(ctx, kinds); err != nil {
			t.Fatal(err)
		}
		got = rcv.messages()
		if len(got) != 4 || got[2].State != alerts.Resolved || got[3].State != alerts.Resolved {
			t.Fatalf("received %+v", got)
		}
	})
}

// TestRetryInsideAttempt: a 500 followed by success within one attempt
// (retryablehttp's own retries) completes the job.
func TestRetryInsideAttempt(t *testing.T) {
	s := storetest.SQLite(t, store.Options{})
	ctx := context.Background()
	rcv := &receiver{fail: 2}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobAlert, Key: "k", Payload: []byte(`{"text":"hi"}`)}); err != nil {
		t.Fatal(err)
	}
	runner := &worker.Runner{Store: s, Funcs: (&worker.Alerts{URL: srv.URL, Client: quickClient(3)}).Funcs()}
	if n, err := runner.RunOnce(ctx, []string{recontact.JobAlert}); err != nil || n != 1 {
		t.Fatalf("ran %d (%v)", n, err)
	}
	if got := rcv.messages(); len(got) != 1 || got[0].Text != "hi" || rcv.posts != 3 {
		t.Fatalf("received %+v after %d posts", got, rcv.posts)
	}
}

// TestDeadLetter: a receiver that keeps failing dead-letters the message
// after the maximum attempts, and the URL is not in the stored error.
func TestDeadLetter(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Now()}
		s.Now = clk.now
		rcv := &receiver{fail: 1 << 30}
		srv := httptest.NewServer(rcv)
		defer srv.Close()
		if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobAlert, Key: "k", Payload: []byte(`{"text":"hi"}`)}); err != nil {
			t.Fatal(err)
		}
		runner := &worker.Runner{Store: s, MaxAttempts: 3, Funcs: (&worker.Alerts{URL: srv.URL, Client: quickClient(0)}).Funcs()}
		for range 5 {
			if _, err := runner.RunOnce(ctx, []string{recontact.JobAlert}); err != nil {
				t.Fatal(err)
			}
			clk.add(time.Hour)
		}
		dead, err := s.DeadLetters(ctx)
		if err != nil || dead[recontact.JobAlert] != 1 || rcv.posts != 3 {
			t.Fatalf("dead letters %v (%v) after %d posts, want 1 after 3", dead, err, rcv.posts)
		}
		jobs, err := s.Jobs(ctx, []string{recontact.JobAlert}, store.JobFailed, 1)
		if err != nil || len(jobs) != 1 || jobs[0].LastError != "alert webhook answered 500 Internal Server Error" {
			t.Fatalf("failed job %+v (%v)", jobs, err)
		}
	})
}

// TestURLNotInErrors: the webhook URL is a credential; a failed post's error,
// which is logged and stored with the job, names the setting instead.
func TestURLNotInErrors(t *testing.T) {
	s := storetest.SQLite(t, store.Options{})
	ctx := context.Background()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/services/T000/B000/secret-token-path"
	srv.Close() // connection refused from now on
	if err := s.Enqueue(ctx, recontact.Job{Kind: recontact.JobAlert, Key: "k", Payload: []byte(`{"text":"hi"}`)}); err != nil {
		t.Fatal(err)
	}
	runner := &worker.Runner{Store: s, MaxAttempts: 1, Funcs: (&worker.Alerts{URL: url, Client: quickClient(1)}).Funcs()}
	if _, err := runner.RunOnce(ctx, []string{recontact.JobAlert}); err != nil {
		t.Fatal(err)
	}
	jobs, err := s.Jobs(ctx, []string{recontact.JobAlert}, store.JobFailed, 1)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("failed jobs %+v (%v)", jobs, err)
	}
	if msg := jobs[0].LastError; strings.Contains(msg, "secret-token-path") || !strings.Contains(msg, "ALERT_WEBHOOK_URL") {
		t.Errorf("stored error %q", msg)
	}
}
