package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/freshdesk"
	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/outbox"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/worker"
)

const writebackOff = "off"

// checkWriteback validates the write-back settings; every error names its
// variable.
func checkWriteback(c *config) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}
	switch c.Writeback {
	case "", writebackOff:
	case outbox.ModeOn, outbox.ModeDryRun:
		if c.ZendeskAPIToken == "" && c.FreshdeskAPIKey == "" {
			bad("WRITEBACK", "%s needs a helpdesk's API credentials (ZENDESK_EMAIL and ZENDESK_API_TOKEN, or FRESHDESK_API_KEY)", c.Writeback)
		}
	default:
		bad("WRITEBACK", "must be on, off or dry-run")
	}
	tags := []struct{ name, value string }{
		{"TAG_REPEAT_CONTACT", c.TagRepeatContact}, {"TAG_FCR", c.TagFCR},
		{"TAG_NOT_FCR", c.TagNotFCR}, {"TAG_STAGE_PREFIX", c.TagStagePrefix},
	}
	for i, t := range tags {
		if r := strings.IndexFunc(t.value, badTagRune); r >= 0 {
			bad(t.name, "%q: a tag is lower-case letters, digits and _ - : . / only (Zendesk lower-cases tags, Freshdesk splits on commas)", t.value)
			continue
		}
		for _, u := range tags[:i] {
			if u.value == t.value {
				bad(t.name, "must differ from %s", u.name)
			}
		}
	}
	if len(errs) == 0 {
		// The prefix makes three more tags; none may equal another one.
		if err := c.tagNames().Validate(); err != nil {
			bad("TAG_STAGE_PREFIX", "%v", err)
		}
	}
	for _, r := range []struct {
		name string
		v    int
	}{
		{"ZENDESK_UPDATES_PER_MINUTE", c.ZendeskUpdatesPerMinute},
		{"ZENDESK_REQUESTS_PER_MINUTE", c.ZendeskRequestsPerMinute},
		{"FRESHDESK_REQUESTS_PER_MINUTE", c.FreshdeskRequestsPerMinute},
		{"WRITEBACK_MAX_ATTEMPTS", c.WritebackMaxAttempts},
	} {
		if r.v < 1 {
			bad(r.name, "must be at least 1")
		}
	}
	if !(c.WritebackBudgetShare > 0 && c.WritebackBudgetShare <= 1) {
		bad("WRITEBACK_BUDGET_SHARE", "must be in (0, 1], e.g. 0.5")
	}
	return oneLine(errs...)
}

func badTagRune(r rune) bool {
	return !(unicode.IsDigit(r) || (unicode.IsLetter(r) && !unicode.IsUpper(r)) || strings.ContainsRune("_-:./", r))
}

func (c *config) tagNames() outbox.TagNames {
	return outbox.TagNames{Repeat: c.TagRepeatContact, FCR: c.TagFCR, NotFCR: c.TagNotFCR, StagePrefix: c.TagStagePrefix}
}

// writebackMode is WRITEBACK, where unset "on": writebackSources then
// limits it to the helpdesks whose credentials are set.
func (c *config) writebackMode() string {
	if c.Writeback == "" {
		return outbox.ModeOn
	}
	return c.Writeback
}

// writebackSources lists the helpdesks whose verdict changes queue
// write-back jobs (store.Options.Writeback): those with API credentials,
// unless WRITEBACK is off.
func (c *config) writebackSources() map[recontact.Source]bool {
	out := map[recontact.Source]bool{}
	if c.writebackMode() == writebackOff {
		return out
	}
	if c.ZendeskAPIToken != "" {
		out[recontact.SourceZendesk] = true
	}
	if c.FreshdeskAPIKey != "" {
		out[recontact.SourceFreshdesk] = true
	}
	return out
}

// helpdesks are the API clients with one limiter per account. Look-ups and
// write-back wait for the same limiter, and every response's rate-limit
// headers reach it, so together they stay inside WRITEBACK_BUDGET_SHARE.
type helpdesks struct {
	zd *zendesk.Client
	fd *freshdesk.Client
	zl *outbox.Limiter // nil without Zendesk credentials
	fl *outbox.Limiter // nil without Freshdesk credentials
}

func newHelpdesks(cfg *config, log *slog.Logger) (*helpdesks, error) {
	h := &helpdesks{}
	zc := zendesk.Config{Subdomain: cfg.ZendeskSubdomain, Email: cfg.ZendeskEmail,
		APIToken: cfg.ZendeskAPIToken, BaseURL: cfg.ZendeskAPIURL, Logger: log}
	if cfg.ZendeskAPIToken != "" {
		h.zl = outbox.NewZendeskLimiter(cfg.ZendeskRequestsPerMinute, cfg.ZendeskUpdatesPerMinute, cfg.WritebackBudgetShare)
		zc.OnRate = h.zl.ObserveZendesk
	}
	var err error
	if h.zd, err = zendesk.NewClient(zc); err != nil {
		return nil, fmt.Errorf("ZENDESK_SUBDOMAIN/ZENDESK_API_URL: %w", err)
	}
	fc := freshdesk.Config{Domain: cfg.FreshdeskDomain, APIKey: cfg.FreshdeskAPIKey,
		BaseURL: cfg.FreshdeskAPIURL, Logger: log}
	if cfg.FreshdeskAPIKey != "" {
		h.fl = outbox.NewFreshdeskLimiter(cfg.FreshdeskRequestsPerMinute, cfg.WritebackBudgetShare)
		fc.OnRate = h.fl.ObserveFreshdesk
	}
	if h.fd, err = freshdesk.NewClient(fc); err != nil {
		return nil, fmt.Errorf("FRESHDESK_DOMAIN/FRESHDESK_API_URL: %w", err)
	}
	return h, nil
}

// enrichment is the API look-up jobs, pacing themselves with the shared
// limiters.
func (h *helpdesks) enrichment(s *store.Store) map[string]worker.Func {
	funcs := (&worker.Zendesk{Store: s, Client: h.zd, Limiter: asLimiter(h.zl)}).Funcs()
	for k, f := range (&worker.Freshdesk{Store: s, Client: h.fd, Limiter: asLimiter(h.fl)}).Funcs() {
		funcs[k] = f
	}
	return funcs
}

// asLimiter keeps a nil *outbox.Limiter from becoming a non-nil interface.
func asLimiter(l *outbox.Limiter) worker.Limiter {
	if l == nil {
		return nil
	}
	return l
}

// newOutbox builds the write-back worker, or nil when write-back is off for
// every helpdesk.
func newOutbox(cfg *config, s *store.Store, h *helpdesks, obs outbox.Observer, log *slog.Logger) (*outbox.Worker, error) {
	srcs := cfg.writebackSources()
	if len(srcs) == 0 {
		return nil, nil
	}
	oc := outbox.Config{
		Store: s, Tags: cfg.tagNames(), Note: cfg.RepeatNote, Mode: cfg.writebackMode(),
		ZendeskUpdatesPerMinute:    cfg.ZendeskUpdatesPerMinute,
		ZendeskRequestsPerMinute:   cfg.ZendeskRequestsPerMinute,
		FreshdeskRequestsPerMinute: cfg.FreshdeskRequestsPerMinute,
		Share:                      cfg.WritebackBudgetShare,
		MaxAttempts:                cfg.WritebackMaxAttempts,
		Observer:                   obs,
		Logger:                     log,
	}
	if srcs[recontact.SourceZendesk] {
		oc.Zendesk, oc.ZendeskLimiter = h.zd, h.zl
	}
	if srcs[recontact.SourceFreshdesk] {
		oc.Freshdesk, oc.FreshdeskLimiter = h.fd, h.fl
	}
	w, err := outbox.New(oc)
	if err != nil {
		return nil, errors.New("WRITEBACK: " + strings.TrimPrefix(err.Error(), "outbox: "))
	}
	return w, nil
}

// writebackLog says, for the start-up line, which helpdesks write back and how.
func writebackLog(cfg *config) map[string]string {
	out := map[string]string{}
	for src := range cfg.writebackSources() {
		out[string(src)] = cfg.writebackMode()
	}
	return out
}
