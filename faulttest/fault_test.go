// Package faulttest kills the running service, and its database, in the middle
// of a stream of webhooks, then checks the promise a 2xx makes: the delivery is
// stored, once. It builds and runs the real binary and restarts the local
// PostgreSQL server, so it runs only when RECONTACT_FAULT_TEST=1, as a CI step
// of its own.
package faulttest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

const (
	secret  = "fault-test-secret"
	senders = 8
	kills   = 3
	// phase is how long deliveries flow between two faults.
	phase = 1500 * time.Millisecond
	// retryBudget bounds how long one delivery is retried. Every fault is over
	// well within it, so a delivery still failing then means no recovery.
	retryBudget = 30 * time.Second
	// maxBackoff caps the wait between attempts. Zendesk honours Retry-After
	// (30 s here), which would make the test minutes long.
	maxBackoff = 200 * time.Millisecond
)

func TestMain(m *testing.M) {
	code := m.Run()
	storetest.DropTemplates()
	os.Exit(code)
}

// TestAcknowledgedIsStoredOnce kills -9 the service mid-stream and restarts it
// on the same store, a few times; on PostgreSQL it also stops the database
// server for a while. Senders retry like Zendesk does, so a delivery committed
// just before a crash arrives again and must be recognised as a duplicate.
func TestAcknowledgedIsStoredOnce(t *testing.T) {
	if os.Getenv("RECONTACT_FAULT_TEST") != "1" {
		t.Skip("RECONTACT_FAULT_TEST=1 runs it: it builds the service, kills it and restarts PostgreSQL")
	}
	bin := filepath.Join(t.TempDir(), "recontact")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/recontact")
	build.Dir = ".." // the module root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("sqlite", func(t *testing.T) {
		crashAndCheck(t, bin, storetest.SQLiteURL(t), nil)
	})
	t.Run("postgres", func(t *testing.T) {
		crashAndCheck(t, bin, storetest.PostgresURL(t), restartPostgres)
	})
}

// crashAndCheck streams deliveries while it kills the service and, if
// dbFault is set, while dbFault takes the database away; then it checks the
// store.
func crashAndCheck(t *testing.T, bin, dbURL string, dbFault func(t *testing.T)) {
	svc := startService(t, bin, dbURL)
	st := newStream(svc.url + "/webhooks/zendesk")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // a hard bound on the senders
	defer cancel()
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() { st.send(ctx) })
	}
	stop := sync.OnceFunc(func() { close(st.stop); wg.Wait() })
	defer stop() // senders stop even if a step below fails the test

	// Each kill is another chance to catch a commit whose answer is lost.
	for range kills {
		time.Sleep(phase)
		svc.kill()
		time.Sleep(phase / 4) // down long enough for senders to see refused connections
		svc.start()
	}
	time.Sleep(phase)
	if dbFault != nil {
		dbFault(t)
		svc.waitReady()
		time.Sleep(phase)
	}
	stop()
	svc.terminate()

	c := &st.counts
	t.Logf("sent %d deliveries in %d requests: %d 2xx (%d duplicate), %d 503, %d connection errors "+
		"(%d refused, %d cut off or timed out), %d other, %d given up",
		c.sent.Load(), c.requests.Load(), c.ok.Load(), c.duplicate.Load(), c.unavailable.Load(),
		c.refused.Load()+c.noAnswer.Load(), c.refused.Load(), c.noAnswer.Load(), c.other.Load(), c.gaveUp.Load())
	for _, s := range st.samples() {
		t.Errorf("unexpected answer: %s", s)
	}
	if n := c.noRetryAfter.Load(); n > 0 {
		t.Errorf("%d answers of 503 had no Retry-After header", n)
	}
	if n := c.gaveUp.Load(); n > 0 {
		t.Errorf("%d deliveries got no 2xx within %v: the service did not recover", n, retryBudget)
	}
	if dbFault != nil && c.unavailable.Load() == 0 {
		t.Errorf("got no 503 while the database was down, want some")
	}
	checkStore(t, dbURL, st.ackedIDs(), c.sent.Load())
}

// checkStore reads the database directly: each key in deliveries once, and
// for each acknowledged ticket exactly one delivery and one contact.
func checkStore(t *testing.T, dbURL string, acked []int64, sent int64) {
	t.Helper()
	dialect, dsn, err := store.ParseURL(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(string(dialect), dsn) // importing store registers both drivers
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	perKey := map[string]int{}
	deliveries := map[string]int{} // per ticket id, read from the kept body
	err = eachRow(t.Context(), db, `SELECT dedupe_key, body FROM deliveries WHERE source = 'zendesk'`, func(rows *sql.Rows) error {
		var key string
		var body []byte
		if err := rows.Scan(&key, &body); err != nil {
			return err
		}
		var b struct {
			TicketID string `json:"ticket_id"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return fmt.Errorf("delivery %s: body: %w", key, err)
		}
		perKey[key]++
		deliveries[b.TicketID]++
		return nil
	})
	if err != nil {
		t.Fatalf("read deliveries: %v", err)
	}
	contacts := map[string]int{}
	err = eachRow(t.Context(), db, `SELECT ticket_id, COUNT(*) FROM contacts WHERE source = 'zendesk' GROUP BY ticket_id`, func(rows *sql.Rows) error {
		var id string
		var n int
		err := rows.Scan(&id, &n)
		contacts[id] = n
		return err
	})
	if err != nil {
		t.Fatalf("read contacts: %v", err)
	}
	t.Logf("stored %d deliveries and %d contacts for %d acknowledged tickets", len(perKey), len(contacts), len(acked))

	for key, n := range perKey {
		if n != 1 {
			t.Errorf("deliveries key %s: got %d rows, want 1", key, n)
		}
	}
	for _, id := range acked {
		s := strconv.FormatInt(id, 10)
		if deliveries[s] != 1 || contacts[s] != 1 {
			t.Errorf("ticket %s got a 2xx: got %d deliveries and %d contacts, want 1 and 1", s, deliveries[s], contacts[s])
		}
	}
	for id := range contacts {
		if n, err := strconv.ParseInt(id, 10, 64); err != nil || n < 1 || n > sent {
			t.Errorf("contact for ticket %q, which was never sent", id)
		}
	}
}

func eachRow(ctx context.Context, db *sql.DB, query string, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// stream sends signed Zendesk trigger deliveries, each for a new ticket, and
// retries each until it gets a 2xx.
type stream struct {
	url    string
	client *http.Client
	stop   chan struct{} // closed: start no new delivery
	lastID atomic.Int64

	mu         sync.Mutex
	acked      []int64  // ticket ids whose delivery got a 2xx
	unexpected []string // answers that are neither 2xx nor 503, at most a few

	counts struct {
		sent, requests, ok, duplicate, unavailable, noRetryAfter, refused, noAnswer, other, gaveUp atomic.Int64
	}
}

func newStream(url string) *stream {
	return &stream{
		url:  url,
		stop: make(chan struct{}),
		client: &http.Client{
			// A request without an answer by then counts as failed and is sent
			// again, as Zendesk does after its own timeout.
			Timeout:   10 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: senders},
		},
	}
}

// send delivers new tickets one after another until stop is closed.
func (s *stream) send(ctx context.Context) {
	for {
		select {
		case <-s.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		s.deliver(ctx, s.lastID.Add(1))
	}
}

// deliver sends ticket id's delivery until it gets a 2xx or the retry budget
// runs out. Every attempt carries the same body, so the same dedupe key.
func (s *stream) deliver(ctx context.Context, id int64) {
	ctx, cancel := context.WithTimeout(ctx, retryBudget)
	defer cancel()
	body := fmt.Appendf(nil, `{"ticket_id":"%d","created_at":"2026-10-05T10:00Z","updated_at":"2026-10-05T10:01Z",`+
		`"status":"Open","via":"Mail","requester_email":"c%d@example.com","org_external_id":"p1"}`, id, id)
	s.counts.sent.Add(1)
	backoff := 10 * time.Millisecond
	for {
		if s.attempt(ctx, body) {
			s.mu.Lock()
			s.acked = append(s.acked, id)
			s.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
			s.counts.gaveUp.Add(1)
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// attempt posts body once and reports whether it got a 2xx.
func (s *stream) attempt(ctx context.Context, body []byte) bool {
	ts := time.Now().UTC().Format(time.RFC3339)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		panic(err) // a constant URL and method
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(zendesk.HeaderTimestamp, ts)
	req.Header.Set(zendesk.HeaderSignature, zendesk.Sign(secret, ts, body))
	s.counts.requests.Add(1)
	resp, err := s.client.Do(req)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		s.counts.refused.Add(1)
		return false
	case err != nil: // the request may have been committed: only a retry tells
		s.counts.noAnswer.Add(1)
		return false
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	switch {
	case resp.StatusCode/100 == 2:
		s.counts.ok.Add(1)
		if bytes.Contains(answer, []byte(`"duplicate"`)) {
			s.counts.duplicate.Add(1)
		}
		return true
	case resp.StatusCode == http.StatusServiceUnavailable:
		s.counts.unavailable.Add(1)
		if resp.Header.Get("Retry-After") == "" {
			s.counts.noRetryAfter.Add(1)
		}
	default:
		s.counts.other.Add(1)
		s.mu.Lock()
		if len(s.unexpected) < 5 {
			s.unexpected = append(s.unexpected, fmt.Sprintf("%d %s", resp.StatusCode, answer))
		}
		s.mu.Unlock()
	}
	return false
}

func (s *stream) ackedIDs() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.acked...)
}

func (s *stream) samples() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unexpected...)
}

// service is the recontact binary running as a child process.
type service struct {
	t      *testing.T
	bin    string
	env    []string
	url    string
	logf   *os.File
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// startService starts bin on a free loopback port with a store at dbURL and
// waits until it is ready. It is killed when the test ends.
func startService(t *testing.T, bin, dbURL string) *service {
	t.Helper()
	port := freePort(t)
	logf, err := os.Create(filepath.Join(t.TempDir(), "service.log"))
	if err != nil {
		t.Fatal(err)
	}
	s := &service{
		t: t, bin: bin, url: "http://127.0.0.1:" + port, logf: logf,
		env: []string{"PORT=" + port, "DATABASE_URL=" + dbURL, "ZENDESK_WEBHOOK_SECRET=" + secret,
			"ADMIN_TOKEN=fault-test-admin", "LOG_LEVEL=warn"},
	}
	t.Cleanup(func() {
		if s.cmd != nil {
			s.kill()
		}
		if t.Failed() {
			out, _ := os.ReadFile(logf.Name())
			t.Logf("service log (last 4 KiB):\n%s", out[max(0, len(out)-4<<10):])
		}
		logf.Close()
	})
	s.start()
	return s
}

func (s *service) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin)
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = s.logf, s.logf
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start service: %v", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	s.waitReady()
}

// waitReady polls /readyz, which pings the store, for up to 30 s.
func (s *service) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			s.t.Fatalf("service exited during start: %v", s.cmd.ProcessState)
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	s.t.Fatalf("service at %s not ready after 30 s", s.url)
}

// kill sends SIGKILL: no shutdown, in-flight requests get no answer.
func (s *service) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// terminate sends SIGTERM and gives the service 30 s to drain.
func (s *service) terminate() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		s.cmd = nil
	case <-time.After(30 * time.Second):
		s.t.Errorf("service did not stop within 30 s of SIGTERM")
		s.kill()
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// restartPostgres stops the local cluster the test database lives on, keeps
// it down long enough for the service to answer 503s, and starts it again.
// The cluster is started again when the test ends, whatever happened.
func restartPostgres(t *testing.T) {
	t.Helper()
	version, name := cluster(t)
	pgctl := func(action string) error {
		out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", version, name, action).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pg_ctlcluster %s: %v: %s", action, err, out)
		}
		return nil
	}
	t.Cleanup(func() {
		if exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", version, name, "status").Run() != nil {
			_ = pgctl("start")
		}
	})
	if err := pgctl("stop"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(phase)
	if err := pgctl("start"); err != nil {
		t.Fatal(err)
	}
}

// cluster finds the local cluster (version, name) that serves the port of
// storetest.AdminURL, from pg_lsclusters.
func cluster(t *testing.T) (string, string) {
	t.Helper()
	u, err := url.Parse(storetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	out, err := exec.Command("pg_lsclusters", "--no-header").Output()
	if err != nil {
		t.Fatalf("pg_lsclusters: %v (the test restarts a local Debian cluster)", err)
	}
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == port {
			return f[0], f[1]
		}
	}
	t.Fatalf("no local PostgreSQL cluster on port %s in pg_lsclusters", port)
	return "", ""
}
