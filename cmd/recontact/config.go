package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/recontact/recontact/metrics"
)

// window is a duration that also accepts whole days ("7d").
type window time.Duration

func (w *window) UnmarshalText(b []byte) error {
	d, err := metrics.ParseWindow(string(b))
	*w = window(d)
	return err
}

// config is every setting recontact reads; the environment is read here once
// and plain values are passed down. The README's table lists each variable
// (a test keeps them in step).
type config struct {
	Port         int    `env:"PORT" envDefault:"8080"`
	DatabaseURL  string `env:"DATABASE_URL" envDefault:"sqlite:recontact.db"`
	AdminToken   string `env:"ADMIN_TOKEN"`
	LogFormat    string `env:"LOG_FORMAT" envDefault:"text"`
	LogLevel     string `env:"LOG_LEVEL" envDefault:"info"`
	MetricsToken string `env:"METRICS_TOKEN"`

	ZendeskWebhookSecret   string `env:"ZENDESK_WEBHOOK_SECRET"`
	ZendeskAllowTestSecret bool   `env:"ZENDESK_ALLOW_TEST_SECRET" envDefault:"false"`
	FreshdeskWebhookSecret string `env:"FRESHDESK_WEBHOOK_SECRET"`
	BookingWebhookSecret   string `env:"BOOKING_WEBHOOK_SECRET"`

	ZendeskSubdomain string `env:"ZENDESK_SUBDOMAIN"`
	ZendeskEmail     string `env:"ZENDESK_EMAIL"`
	ZendeskAPIToken  string `env:"ZENDESK_API_TOKEN"`
	ZendeskAPIURL    string `env:"ZENDESK_API_URL"`
	FreshdeskDomain  string `env:"FRESHDESK_DOMAIN"`
	FreshdeskAPIKey  string `env:"FRESHDESK_API_KEY"`
	FreshdeskAPIURL  string `env:"FRESHDESK_API_URL"`

	RepeatWindow     window  `env:"REPEAT_WINDOW" envDefault:"168h"`
	FCRWindow        window  `env:"FCR_WINDOW" envDefault:"7d"`
	OrderWindow      window  `env:"ORDER_WINDOW" envDefault:"7d"`
	ContactRatioLow  float64 `env:"CONTACT_RATIO_LOW" envDefault:"0.05"`
	ContactRatioHigh float64 `env:"CONTACT_RATIO_HIGH" envDefault:"0.15"`
	RawRetention     window  `env:"RAW_RETENTION" envDefault:"30d"`
	JobMaxAttempts   int     `env:"JOB_MAX_ATTEMPTS" envDefault:"10"`

	// Backfill and reconciliation (cmd/recontact/backfill.go).
	ZendeskExportsPerMinute int           `env:"ZENDESK_EXPORTS_PER_MINUTE" envDefault:"10"` // 30 with High Volume
	ReconcileInterval       time.Duration `env:"RECONCILE_INTERVAL" envDefault:"15m"`        // 0: off

	// Write-back (cmd/recontact/writeback.go checks these).
	Writeback                  string  `env:"WRITEBACK"` // on, off or dry-run; "": on where credentials are set
	RepeatNote                 bool    `env:"REPEAT_NOTE" envDefault:"true"`
	TagRepeatContact           string  `env:"TAG_REPEAT_CONTACT" envDefault:"repeat_contact"`
	TagFCR                     string  `env:"TAG_FCR" envDefault:"fcr"`
	TagNotFCR                  string  `env:"TAG_NOT_FCR" envDefault:"not_fcr"`
	TagStagePrefix             string  `env:"TAG_STAGE_PREFIX" envDefault:"stage_"`
	ZendeskUpdatesPerMinute    int     `env:"ZENDESK_UPDATES_PER_MINUTE" envDefault:"100"`
	ZendeskRequestsPerMinute   int     `env:"ZENDESK_REQUESTS_PER_MINUTE" envDefault:"200"`
	FreshdeskRequestsPerMinute int     `env:"FRESHDESK_REQUESTS_PER_MINUTE" envDefault:"50"`
	WritebackBudgetShare       float64 `env:"WRITEBACK_BUDGET_SHARE" envDefault:"0.5"`
	WritebackMaxAttempts       int     `env:"WRITEBACK_MAX_ATTEMPTS" envDefault:"10"`

	// Alerts (cmd/recontact/alerts.go checks these).
	AlertWebhookURL      string   `env:"ALERT_WEBHOOK_URL"`
	AlertRepeatRateAbove *float64 `env:"ALERT_REPEAT_RATE_ABOVE"` // nil: rule off
	AlertFCRRateBelow    *float64 `env:"ALERT_FCR_RATE_BELOW"`    // nil: rule off
	AlertWindow          window   `env:"ALERT_WINDOW" envDefault:"7d"`
	AlertCheckInterval   window   `env:"ALERT_CHECK_INTERVAL" envDefault:"1m"`
}

func (c *config) settings() metrics.Settings {
	return metrics.Settings{
		RepeatWindow: time.Duration(c.RepeatWindow), FCRWindow: time.Duration(c.FCRWindow),
		OrderWindow: time.Duration(c.OrderWindow), RatioLow: c.ContactRatioLow, RatioHigh: c.ContactRatioHigh,
	}
}

// loadConfig parses and validates; an error names the variable.
func loadConfig(environ map[string]string) (*config, error) {
	var c config
	if err := env.ParseWithOptions(&c, env.Options{Environment: environ}); err != nil {
		return nil, explain(err)
	}
	check := func(ok bool, name, msg string) error {
		if ok {
			return nil
		}
		return fmt.Errorf("%s: %s", name, msg)
	}
	return &c, oneLine(
		check(c.Port > 0 && c.Port < 65536, "PORT", "must be a port number (1-65535)"),
		check(c.LogFormat == "text" || c.LogFormat == "json", "LOG_FORMAT", "must be text or json"),
		check(slices(c.LogLevel, "debug", "info", "warn", "error"), "LOG_LEVEL", "must be debug, info, warn or error"),
		check(c.ContactRatioLow >= 0 && c.ContactRatioLow <= c.ContactRatioHigh, "CONTACT_RATIO_LOW", "must be between 0 and CONTACT_RATIO_HIGH"),
		check(c.JobMaxAttempts >= 1, "JOB_MAX_ATTEMPTS", "must be at least 1"),
		check(c.ZendeskExportsPerMinute >= 1, "ZENDESK_EXPORTS_PER_MINUTE", "must be at least 1 (Zendesk allows 10, 30 with High Volume)"),
		check(c.ReconcileInterval == 0 || c.ReconcileInterval >= time.Minute, "RECONCILE_INTERVAL", "must be 0 (off) or at least 1m"),
		check((c.ZendeskEmail == "") == (c.ZendeskAPIToken == ""), "ZENDESK_API_TOKEN", "set ZENDESK_EMAIL and ZENDESK_API_TOKEN together"),
		check(c.ZendeskAPIToken == "" || c.ZendeskSubdomain != "" || c.ZendeskAPIURL != "", "ZENDESK_SUBDOMAIN", "required with ZENDESK_API_TOKEN (or set ZENDESK_API_URL)"),
		check(c.FreshdeskAPIKey == "" || c.FreshdeskDomain != "" || c.FreshdeskAPIURL != "", "FRESHDESK_DOMAIN", "required with FRESHDESK_API_KEY (or set FRESHDESK_API_URL)"),
		checkWriteback(&c),
		checkAlerts(&c),
	)
}

func slices(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// explain rewrites the library's field-named errors to name the variable.
func explain(err error) error {
	names := map[string]string{}
	t := reflect.TypeOf(config{})
	for i := range t.NumField() {
		names[t.Field(i).Name] = t.Field(i).Tag.Get("env")
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var out []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			msg := pe.Err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 {
				msg = msg[i+2:]
			}
			out = append(out, fmt.Errorf("%s: %s", names[pe.Name], msg))
			continue
		}
		out = append(out, e)
	}
	return oneLine(out...)
}

// oneLine joins errors with "; " so a bad start says everything in one line.
func oneLine(errs ...error) error {
	var msgs []string
	for _, e := range errs {
		if e != nil {
			msgs = append(msgs, e.Error())
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}

// variables lists every variable with its default, for the README table test.
func variables() map[string]string {
	out := map[string]string{}
	t := reflect.TypeOf(config{})
	for i := range t.NumField() {
		f := t.Field(i)
		out[f.Tag.Get("env")] = f.Tag.Get("envDefault")
	}
	return out
}
