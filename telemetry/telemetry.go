// Package telemetry exposes recontact's operator signals in Prometheus
// format: webhook deliveries and ingest latency, helpdesk API calls, the job
// queue, and the current headline rates.
package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
)

// Metrics is recontact's registry. It implements handlers.Observer.
type Metrics struct {
	reg        *prometheus.Registry
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	calls      *prometheus.CounterVec
	reconciled *prometheus.CounterVec
}

// RatesTTL is how long the rate gauges are reused between scrapes: a period
// query per scrape would let a busy scraper load the store for figures that
// move slowly anyway.
const RatesTTL = 30 * time.Second

// New registers everything; the queue gauges read the store at scrape time,
// the rate gauges over the trailing window at most once per RatesTTL.
func New(s *store.Store, window time.Duration, log *slog.Logger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recontact_webhook_deliveries_total",
			Help: "Webhook deliveries by source and outcome (accepted, duplicate, rejected_<reason>).",
		}, []string{"source", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "recontact_ingest_seconds",
			Help:    "Time from a webhook's first byte to its answer, by source.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"source"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recontact_helpdesk_calls_total",
			Help: "Helpdesk API calls by helpdesk, kind and HTTP status.",
		}, []string{"helpdesk", "kind", "status"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recontact_reconciled_missed_total",
			Help: "Records reconciliation found that no webhook had delivered, by source.",
		}, []string{"source"}),
	}
	m.reg.MustRegister(m.deliveries, m.latency, m.calls, m.reconciled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storeCollector{s: s, window: window, log: log})
	return m
}

// Delivery counts one webhook delivery (handlers.Observer).
func (m *Metrics) Delivery(src recontact.Source, outcome string, seconds float64) {
	m.deliveries.WithLabelValues(string(src), outcome).Inc()
	m.latency.WithLabelValues(string(src)).Observe(seconds)
}

// Call counts one helpdesk API call.
func (m *Metrics) Call(helpdesk, kind string, status int) {
	m.calls.WithLabelValues(helpdesk, kind, strconv.Itoa(status)).Inc()
}

// Reconciled counts records found by reconciliation that no webhook delivered.
func (m *Metrics) Reconciled(src recontact.Source, n int) {
	m.reconciled.WithLabelValues(string(src)).Add(float64(n))
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// storeCollector reads queue state when scraped, so it is never stale and
// costs nothing between scrapes; the rates are cached for RatesTTL.
type storeCollector struct {
	s      *store.Store
	window time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	ratesAt time.Time // zero: never read
	rates   metrics.Totals
}

var (
	queueDesc  = prometheus.NewDesc("recontact_jobs", "Jobs in the durable queue by kind group and state (failed = dead letter).", []string{"queue", "state"}, nil)
	oldestDesc = prometheus.NewDesc("recontact_jobs_oldest_pending_seconds", "Age of the oldest pending job.", []string{"queue"}, nil)
	rateDesc   = prometheus.NewDesc("recontact_rate", "Headline rates over the trailing window (contact_ratio, fcr_rate, repeat_contact_rate); absent when undefined.", []string{"rate"}, nil)
	deadDesc   = prometheus.NewDesc("recontact_dead_letters", "Jobs that failed for good (the dead letter), by job kind.", []string{"kind"}, nil)
	inboxDesc  = prometheus.NewDesc("recontact_inbox", "Acknowledged deliveries not yet applied to contacts (waiting), and those that could not be applied (failed; kept, see the log).", []string{"state"}, nil)
	evalDesc   = prometheus.NewDesc("recontact_evaluation_backlog", "Contact changes whose verdicts are not evaluated yet (one per change); it falls back to 0 behind a burst or a settings change.", nil, nil)
)

// queues groups job kinds as operators think of them.
var queues = map[string][]string{
	"writeback":  {recontact.JobWriteback},
	"enrichment": {recontact.JobZendeskRequester, recontact.JobZendeskOrg, recontact.JobZendeskTicket, recontact.JobZendeskMetrics, recontact.JobFreshdeskTicket},
	"alerts":     {recontact.JobAlert},
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- oldestDesc
	ch <- rateDesc
	ch <- deadDesc
	ch <- inboxDesc
	ch <- evalDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for name, kinds := range queues {
		st, err := c.s.Queue(ctx, kinds)
		if err != nil {
			c.log.Warn("metrics: read queue", slog.Any("err", err))
			return
		}
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Pending), name, "pending")
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Running), name, "running")
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(st.Failed), name, "failed")
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, st.OldestPending.Seconds(), name)
	}
	waiting, failed, err := c.s.InboxBacklog(ctx)
	if err != nil {
		c.log.Warn("metrics: read inbox", slog.Any("err", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(inboxDesc, prometheus.GaugeValue, float64(waiting), "waiting")
	ch <- prometheus.MustNewConstMetric(inboxDesc, prometheus.GaugeValue, float64(failed), "failed")
	backlog, err := c.s.EvaluationBacklog(ctx)
	if err != nil {
		c.log.Warn("metrics: read evaluation backlog", slog.Any("err", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(evalDesc, prometheus.GaugeValue, float64(backlog))
	dead, err := c.s.DeadLetters(ctx)
	if err != nil {
		c.log.Warn("metrics: read dead letters", slog.Any("err", err))
		return
	}
	for _, kinds := range queues {
		for _, k := range kinds {
			if _, ok := dead[k]; !ok {
				dead[k] = 0 // a known kind shows 0, so alerting on it needs no absent()
			}
		}
	}
	for kind, n := range dead {
		ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(n), kind)
	}
	t, err := c.headline(ctx)
	if err != nil {
		c.log.Warn("metrics: read rates", slog.Any("err", err))
		return
	}
	for name, v := range map[string]*float64{"contact_ratio": t.ContactRatio, "fcr_rate": t.FCRRate, "repeat_contact_rate": t.RepeatContactRate} {
		if v != nil {
			ch <- prometheus.MustNewConstMetric(rateDesc, prometheus.GaugeValue, *v, name)
		}
	}
}

// headline returns the trailing window's totals, read again only once the
// cached ones are RatesTTL old. Concurrent scrapes wait for one read.
func (c *storeCollector) headline(ctx context.Context) (metrics.Totals, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.s.Now()
	if !c.ratesAt.IsZero() && now.Sub(c.ratesAt) < RatesTTL && !now.Before(c.ratesAt) {
		return c.rates, nil
	}
	t, _, err := c.s.Period(ctx, store.PeriodQuery{From: now.Add(-c.window), To: now})
	if err != nil {
		return t, err
	}
	c.rates, c.ratesAt = t, now
	return t, nil
}
