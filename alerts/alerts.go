// Package alerts watches the headline rates over a trailing window and queues
// one message per threshold crossing (and one when it clears) for the durable
// job queue to post to ALERT_WEBHOOK_URL.
//
// Each rule is judged for all partners together and for each partner: a
// partner's contact ratio in the high band, the repeat contact rate above
// RepeatRateAbove, the FCR rate below FCRRateBelow. A crossing is a change of
// the state stored per rule and partner, flipped in the same transaction that
// queues the message, so re-checking a steady state sends nothing and several
// instances checking at once send each message once.
package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
)

// Rule names, as they appear in messages.
const (
	RuleContactRatioHigh = "contact_ratio_high"
	RuleRepeatRateAbove  = "repeat_contact_rate_above"
	RuleFCRRateBelow     = "fcr_rate_below"
)

// Message states.
const (
	Firing   = "firing"
	Resolved = "resolved"
)

// Message is the JSON posted for one crossing. Text makes it readable as is
// in Slack (and anything Slack-compatible); the other fields are for machines.
type Message struct {
	Text      string    `json:"text"`
	Rule      string    `json:"rule"`
	State     string    `json:"state"`
	Partner   *string   `json:"partner"` // null: all partners together
	Value     *float64  `json:"value"`   // null when the rate is no longer defined
	Threshold float64   `json:"threshold"`
	Window    string    `json:"window"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
}

// Checker evaluates the rules; Run repeats that every Interval.
type Checker struct {
	Store *store.Store
	// RepeatRateAbove and FCRRateBelow switch their rules on; nil is off. The
	// contact ratio rule is always on and uses the store's CONTACT_RATIO_HIGH.
	RepeatRateAbove *float64
	FCRRateBelow    *float64
	Window          time.Duration // trailing window; default 7 days
	Interval        time.Duration // default 1 minute
	Log             *slog.Logger
	// Queued, when set, is called after a check queued messages (wakes the
	// job runner).
	Queued func()
	// Read replaces the store's period query when set (tests feed readings).
	Read func(ctx context.Context, from, to time.Time) (metrics.Totals, []metrics.Group, error)
}

// Run checks at once and then every Interval until ctx ends.
func (c *Checker) Run(ctx context.Context) {
	interval := c.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := c.Check(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			c.log().Warn("alert check", slog.Any("err", err))
		case n > 0:
			c.log().Info("alerts queued", slog.Int("messages", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Checker) log() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

func (c *Checker) window() time.Duration {
	if c.Window <= 0 {
		return 7 * 24 * time.Hour
	}
	return c.Window
}

// reading is one rule's verdict on one subject.
type reading struct {
	rule      string
	partner   string // "" = all partners
	value     *float64
	threshold float64
	firing    bool
}

func (r reading) key() string { return r.rule + ":" + r.partner }

// Check evaluates every rule once and queues a message for each crossing,
// reporting how many it queued.
func (c *Checker) Check(ctx context.Context) (int, error) {
	to := c.Store.Now().UTC()
	from := to.Add(-c.window())
	read := c.Read
	if read == nil {
		read = func(ctx context.Context, from, to time.Time) (metrics.Totals, []metrics.Group, error) {
			return c.Store.Period(ctx, store.PeriodQuery{From: from, To: to, GroupBy: metrics.GroupPartner})
		}
	}
	totals, groups, err := read(ctx, from, to)
	if err != nil {
		return 0, err
	}
	readings := c.judge("", totals)
	for _, g := range groups {
		if g.Key != nil && *g.Key != "" { // contacts without a partner count only in the totals
			readings = append(readings, c.judge(*g.Key, g.Totals)...)
		}
	}
	firing, err := c.Store.FiringAlerts(ctx)
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	queued := 0
	flip := func(r reading) error {
		ok, err := c.Store.FlipAlert(ctx, r.key(), r.firing, c.job(r, from, to))
		if ok {
			queued++
		}
		return err
	}
	for _, r := range readings {
		seen[r.key()] = true
		if err := flip(r); err != nil {
			return queued, err
		}
	}
	// A subject that vanished from the readings (a partner without contacts
	// in the window, or a rule switched off) no longer meets its condition.
	for _, key := range firing {
		if seen[key] {
			continue
		}
		rule, partner, _ := strings.Cut(key, ":")
		if err := flip(reading{rule: rule, partner: partner, threshold: c.threshold(rule)}); err != nil {
			return queued, err
		}
	}
	if queued > 0 && c.Queued != nil {
		c.Queued()
	}
	return queued, nil
}

// judge applies the active rules to one subject's totals. An undefined rate
// (no data) does not meet any condition.
func (c *Checker) judge(partner string, t metrics.Totals) []reading {
	out := []reading{{rule: RuleContactRatioHigh, partner: partner, value: t.ContactRatio, threshold: c.threshold(RuleContactRatioHigh),
		firing: t.ContactRatioBand != nil && *t.ContactRatioBand == metrics.BandHigh}}
	if c.RepeatRateAbove != nil {
		v := t.RepeatContactRate
		out = append(out, reading{rule: RuleRepeatRateAbove, partner: partner, value: v, threshold: *c.RepeatRateAbove,
			firing: v != nil && *v > *c.RepeatRateAbove})
	}
	if c.FCRRateBelow != nil {
		v := t.FCRRate
		out = append(out, reading{rule: RuleFCRRateBelow, partner: partner, value: v, threshold: *c.FCRRateBelow,
			firing: v != nil && *v < *c.FCRRateBelow})
	}
	return out
}

func (c *Checker) threshold(rule string) float64 {
	switch rule {
	case RuleRepeatRateAbove:
		if c.RepeatRateAbove != nil {
			return *c.RepeatRateAbove
		}
	case RuleFCRRateBelow:
		if c.FCRRateBelow != nil {
			return *c.FCRRateBelow
		}
	case RuleContactRatioHigh:
		return c.Store.Settings().RatioHigh
	}
	return 0
}

// job builds the queued message. Its key is unique per crossing, so a quick
// enter-then-clear queues two messages instead of coalescing into one.
func (c *Checker) job(r reading, from, to time.Time) recontact.Job {
	m := NewMessage(r.rule, r.firing, r.partner, r.value, r.threshold, c.window(), from, to)
	body, _ := json.Marshal(m) // plain fields: cannot fail
	return recontact.Job{Kind: recontact.JobAlert, Key: r.key() + ":" + m.State + ":" + strconv.FormatInt(to.UnixMilli(), 10), Payload: body}
}

// NewMessage builds the message for one crossing.
func NewMessage(rule string, firing bool, partner string, value *float64, threshold float64, window time.Duration, from, to time.Time) Message {
	m := Message{Rule: rule, State: Resolved, Value: value, Threshold: threshold, Window: FormatWindow(window), From: from, To: to}
	if firing {
		m.State = Firing
	}
	who := "all partners"
	if partner != "" {
		m.Partner = &partner
		who = "partner " + partner
	}
	name, cond, format := describe(rule)
	now := "undefined (no data)"
	if value != nil {
		now = format(*value)
	}
	if firing {
		m.Text = fmt.Sprintf(":rotating_light: recontact: %s for %s is %s, %s %s (trailing %s to %s)",
			name, who, now, cond, format(threshold), m.Window, to.Format("2006-01-02 15:04 UTC"))
	} else {
		m.Text = fmt.Sprintf(":white_check_mark: recontact: resolved: %s for %s is now %s (threshold %s, trailing %s to %s)",
			name, who, now, format(threshold), m.Window, to.Format("2006-01-02 15:04 UTC"))
	}
	return m
}

// describe says how a rule reads in a sentence and formats its values:
// rates as percentages, the contact ratio as contacts per booking.
func describe(rule string) (name, cond string, format func(float64) string) {
	pct := func(v float64) string { return strconv.FormatFloat(v*100, 'f', 1, 64) + "%" }
	switch rule {
	case RuleRepeatRateAbove:
		return "repeat contact rate", "above", pct
	case RuleFCRRateBelow:
		return "FCR rate", "below", pct
	}
	return "contact ratio", "in the high band, above", func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
}

// FormatWindow writes whole days as "7d", anything else as a Go duration.
func FormatWindow(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
