// Command ingest is a load generator for recontact's webhook ingest. For a
// fixed time it sends signed Zendesk trigger deliveries, each for a new
// ticket, from concurrent senders over keep-alive connections, and prints one
// tab-separated line:
//
//	senders  deliveries/s  p50 ms  p99 ms  errors  readable max ms
//
// With -token (the ADMIN_TOKEN) it also checks the promise that a contact is
// readable within a second of its 2xx: five times a second it reads the
// ticket of the latest 2xx through GET /api/v1/tickets, under the full load,
// and reports the longest time from that 2xx to the contact's 200 ("-"
// without -token).
//
// Only 2xx answers count as deliveries (a 2xx means committed); anything else,
// or no answer, is an error and is not retried. It sends to loopback only.
//
// Each sender writes its requests on its own keep-alive connection and reads
// the answer itself, like wrk, rather than through net/http's client (two
// goroutines and their hand-offs per connection): the generator shares the
// machine with the service, and should take as little of it as it can.
//
//	go run ./bench/ingest -secret "$ZENDESK_WEBHOOK_SECRET" -c 32 -d 15s
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recontact/recontact/connectors/zendesk"
)

func main() {
	target := flag.String("url", "http://127.0.0.1:8080/webhooks/zendesk", "webhook endpoint, on loopback")
	secret := flag.String("secret", os.Getenv("ZENDESK_WEBHOOK_SECRET"), "Zendesk signing secret (default $ZENDESK_WEBHOOK_SECRET)")
	senders := flag.Int("c", 8, "concurrent senders, one connection each")
	duration := flag.Duration("d", 15*time.Second, "how long to send")
	first := flag.Int64("first", 1, "first ticket id; runs on one store need ranges of their own")
	token := flag.String("token", "", "ADMIN_TOKEN: also measure how soon an acknowledged contact is readable")
	flag.Parse()
	if err := run(*target, *secret, *token, *senders, *duration, *first); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(target, secret, token string, senders int, duration time.Duration, first int64) error {
	if err := loopback(target); err != nil {
		return err
	}
	if secret == "" {
		return errors.New("-secret (or ZENDESK_WEBHOOK_SECRET) is required")
	}
	if senders < 1 || duration <= 0 {
		return errors.New("-c and -d must be positive")
	}
	u, _ := url.Parse(target)
	g := &generator{addr: u.Host, path: u.RequestURI(), secret: secret}
	g.nextID.Store(first - 1)

	results := make([]result, senders)
	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { results[i] = g.send(deadline) })
	}
	readable := "-"
	var readErr error
	if token != "" {
		var worst time.Duration
		worst, readErr = g.readBack(target, token, deadline)
		readable = fmt.Sprintf("%.1f", ms(worst))
	}
	wg.Wait()
	elapsed := time.Since(start) // includes the requests still in flight at the deadline
	if readErr != nil {
		return readErr
	}

	var total result
	for _, r := range results {
		total.errors += r.errors
		total.latencies = append(total.latencies, r.latencies...)
		if total.firstErr == "" {
			total.firstErr = r.firstErr
		}
	}
	slices.Sort(total.latencies)
	ok := len(total.latencies)
	fmt.Printf("%d\t%.0f\t%.1f\t%.1f\t%d\t%s\n", senders, float64(ok)/elapsed.Seconds(),
		ms(percentile(total.latencies, 0.50)), ms(percentile(total.latencies, 0.99)), total.errors, readable)
	if total.firstErr != "" {
		fmt.Fprintf(os.Stderr, "ingest: %d errors, the first: %s\n", total.errors, total.firstErr)
	}
	return nil
}

// loopback refuses any target but this machine: a load generator must not
// point at a real service by mistake.
func loopback(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %s: want a loopback address such as 127.0.0.1", target)
	}
	return nil
}

type generator struct {
	addr, path, secret string
	nextID             atomic.Int64
	latest             atomic.Pointer[acked] // the most recent 2xx
}

type acked struct {
	id int64
	at time.Time
}

// readBack reads the ticket of the latest 2xx five times a second until
// deadline, and returns the longest wait from a 2xx to its contact's 200.
func (g *generator) readBack(target, token string, deadline time.Time) (time.Duration, error) {
	u, _ := url.Parse(target)
	base := u.Scheme + "://" + u.Host + "/api/v1/tickets/zendesk/"
	client := &http.Client{Timeout: 10 * time.Second}
	var worst time.Duration
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		last := g.latest.Load()
		if last == nil {
			continue
		}
		for {
			req, _ := http.NewRequest(http.MethodGet, base+strconv.FormatInt(last.id, 10), nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			if resp.StatusCode != http.StatusNotFound || time.Since(last.at) > 30*time.Second {
				return 0, fmt.Errorf("read ticket %d: %s", last.id, resp.Status)
			}
		}
		worst = max(worst, time.Since(last.at))
	}
	return worst, nil
}

// result is one sender's tally: the latency of each 2xx, and the rest.
type result struct {
	latencies []time.Duration
	errors    int
	firstErr  string
}

// send posts deliveries one after another until deadline; a delivery started
// before it is waited for.
func (g *generator) send(deadline time.Time) result {
	var r result
	var c *conn
	for time.Now().Before(deadline) {
		start := time.Now()
		err := error(nil)
		if c == nil {
			c, err = g.dial()
		}
		id := g.nextID.Add(1)
		if err == nil {
			err = c.post(g, id)
		}
		if err != nil {
			r.errors++
			if r.firstErr == "" {
				r.firstErr = err.Error()
			}
			if c != nil && c.broken {
				c.Close()
				c = nil
			}
			continue
		}
		r.latencies = append(r.latencies, time.Since(start))
		g.latest.Store(&acked{id: id, at: time.Now()})
	}
	if c != nil {
		c.Close()
	}
	return r
}

type conn struct {
	net.Conn
	r      *bufio.Reader
	buf    []byte
	broken bool // the connection cannot carry another request
}

func (g *generator) dial() (*conn, error) {
	nc, err := net.DialTimeout("tcp", g.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &conn{Conn: nc, r: bufio.NewReader(nc)}, nil
}

// post sends ticket id's delivery, signed as Zendesk signs it, and returns an
// error unless the answer is 2xx.
func (c *conn) post(g *generator, id int64) error {
	body := fmt.Appendf(nil, `{"ticket_id":"%d","created_at":"2026-10-05T10:00Z","updated_at":"2026-10-05T10:01Z",`+
		`"status":"Open","via":"Mail","requester_email":"c%d@example.com","org_external_id":"p1"}`, id, id)
	ts := time.Now().UTC().Format(time.RFC3339)
	c.buf = fmt.Appendf(c.buf[:0], "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"%s: %s\r\n%s: %s\r\nContent-Length: %d\r\n\r\n%s",
		g.path, g.addr, zendesk.HeaderTimestamp, ts, zendesk.HeaderSignature, zendesk.Sign(g.secret, ts, body), len(body), body)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(c.buf); err != nil {
		c.broken = true
		return err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.broken = true
		return err
	}
	// Read to the end, so the connection is kept for the next delivery.
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if err != nil || resp.Close {
		c.broken = true
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("ticket %d: %s: %s", id, resp.Status, bytes.TrimSpace(answer))
	}
	return err
}

// percentile is the nearest-rank percentile of sorted latencies; 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
