package main

import (
	"errors"
	"log/slog"
	"maps"
	"net/url"
	"time"

	"github.com/recontact/recontact/alerts"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/worker"
)

// checkAlerts validates the alert settings. The URL is a credential (a Slack
// webhook's path is its secret), so no message repeats it.
func checkAlerts(c *config) error {
	var errs []error
	if c.AlertWebhookURL != "" {
		u, err := url.Parse(c.AlertWebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("ALERT_WEBHOOK_URL: must be an absolute http(s) URL"))
		}
	}
	rate := func(name string, v *float64) {
		if v != nil && (*v < 0 || *v > 1) {
			errs = append(errs, errors.New(name+": must be a rate between 0 and 1 (0.2 = 20%)"))
		}
	}
	rate("ALERT_REPEAT_RATE_ABOVE", c.AlertRepeatRateAbove)
	rate("ALERT_FCR_RATE_BELOW", c.AlertFCRRateBelow)
	if c.AlertWindow <= 0 {
		errs = append(errs, errors.New("ALERT_WINDOW: must be positive"))
	}
	if time.Duration(c.AlertCheckInterval) < time.Second {
		errs = append(errs, errors.New("ALERT_CHECK_INTERVAL: must be at least 1s"))
	}
	return oneLine(errs...)
}

// alerting registers the alert job with the runner (always: messages queued
// before ALERT_WEBHOOK_URL was removed are then dropped, not left pending)
// and returns the checker to run, or nil when alerts are off.
func alerting(cfg *config, s *store.Store, runner *worker.Runner, log *slog.Logger) *alerts.Checker {
	if runner.Funcs == nil {
		runner.Funcs = map[string]worker.Func{}
	}
	maps.Copy(runner.Funcs, (&worker.Alerts{URL: cfg.AlertWebhookURL}).Funcs())
	if cfg.AlertWebhookURL == "" {
		return nil
	}
	return &alerts.Checker{
		Store: s, RepeatRateAbove: cfg.AlertRepeatRateAbove, FCRRateBelow: cfg.AlertFCRRateBelow,
		Window: time.Duration(cfg.AlertWindow), Interval: time.Duration(cfg.AlertCheckInterval),
		Log: log, Queued: runner.Wake,
	}
}
