package main

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/outbox"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

var zendeskCreds = map[string]string{"ZENDESK_SUBDOMAIN": "acme", "ZENDESK_EMAIL": "bot@example.com", "ZENDESK_API_TOKEN": "t"}

func withEnv(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// TestWritebackSources: write-back defaults to on for each helpdesk whose
// API credentials are set, and WRITEBACK overrides it.
func TestWritebackSources(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // sources that write back, and the mode
	}{
		{map[string]string{}, "map[] on"},
		{zendeskCreds, "map[zendesk:true] on"},
		{withEnv(zendeskCreds, "FRESHDESK_DOMAIN", "acme", "FRESHDESK_API_KEY", "k"), "map[freshdesk:true zendesk:true] on"},
		{withEnv(zendeskCreds, "WRITEBACK", "off"), "map[] off"},
		{withEnv(zendeskCreds, "WRITEBACK", "dry-run"), "map[zendesk:true] dry-run"},
		{map[string]string{"FRESHDESK_DOMAIN": "acme", "FRESHDESK_API_KEY": "k", "WRITEBACK": "on"}, "map[freshdesk:true] on"},
	} {
		c, err := loadConfig(tc.env)
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if got := fmt.Sprint(c.writebackSources(), " ", c.writebackMode()); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.env, got, tc.want)
		}
	}
	c, err := loadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if !c.RepeatNote || c.tagNames() != outbox.DefaultTagNames() ||
		c.ZendeskUpdatesPerMinute != 100 || c.ZendeskRequestsPerMinute != 200 || c.FreshdeskRequestsPerMinute != 50 ||
		c.WritebackBudgetShare != 0.5 || c.WritebackMaxAttempts != 10 {
		t.Errorf("write-back defaults: %+v", c)
	}
}

// TestWritebackConfigErrors: a bad write-back setting stops the start with
// one line naming the variable.
func TestWritebackConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"WRITEBACK": "maybe"}, "WRITEBACK: must be on, off or dry-run"},
		{map[string]string{"WRITEBACK": "on"}, "WRITEBACK: on needs a helpdesk's API credentials"},
		{map[string]string{"WRITEBACK": "dry-run"}, "WRITEBACK: dry-run needs"},
		{map[string]string{"REPEAT_NOTE": "maybe"}, "REPEAT_NOTE:"},
		{map[string]string{"TAG_FCR": "first contact"}, `TAG_FCR: "first contact": a tag is`},
		{map[string]string{"TAG_NOT_FCR": "not,fcr"}, `TAG_NOT_FCR: "not,fcr"`},
		{map[string]string{"TAG_REPEAT_CONTACT": "Repeat"}, `TAG_REPEAT_CONTACT: "Repeat"`},
		{map[string]string{"TAG_NOT_FCR": "fcr"}, "TAG_NOT_FCR: must differ from TAG_FCR"},
		{map[string]string{"TAG_FCR": "stage_in_destination"}, "TAG_STAGE_PREFIX: tag names must differ"},
		{map[string]string{"WRITEBACK_BUDGET_SHARE": "0"}, "WRITEBACK_BUDGET_SHARE: must be in (0, 1]"},
		{map[string]string{"WRITEBACK_BUDGET_SHARE": "1.5"}, "WRITEBACK_BUDGET_SHARE: must be in (0, 1]"},
		{map[string]string{"WRITEBACK_BUDGET_SHARE": "half"}, "WRITEBACK_BUDGET_SHARE:"},
		{map[string]string{"ZENDESK_UPDATES_PER_MINUTE": "0"}, "ZENDESK_UPDATES_PER_MINUTE: must be at least 1"},
		{map[string]string{"ZENDESK_REQUESTS_PER_MINUTE": "-5"}, "ZENDESK_REQUESTS_PER_MINUTE: must be at least 1"},
		{map[string]string{"FRESHDESK_REQUESTS_PER_MINUTE": "0"}, "FRESHDESK_REQUESTS_PER_MINUTE: must be at least 1"},
		{map[string]string{"WRITEBACK_MAX_ATTEMPTS": "0"}, "WRITEBACK_MAX_ATTEMPTS: must be at least 1"},
	} {
		_, err := loadConfig(tc.env)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: got %v, want one line starting %q", tc.env, err, tc.want)
		}
	}
}

// TestNewOutbox: serve builds the write-back worker only where it is on, and
// the store queues write-backs for exactly those helpdesks.
func TestNewOutbox(t *testing.T) {
	s := storetest.SQLite(t, store.Options{})
	for env, want := range map[string]bool{"on": true, "dry-run": true, "off": false} {
		c, err := loadConfig(withEnv(zendeskCreds, "WRITEBACK", env))
		if err != nil {
			t.Fatal(err)
		}
		h, err := newHelpdesks(c, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if h.zl == nil || h.fl != nil {
			t.Errorf("WRITEBACK=%s: limiters %v %v; want Zendesk's only (look-ups use it too)", env, h.zl, h.fl)
		}
		w, err := newOutbox(c, s, h, nil, slog.New(slog.DiscardHandler))
		if err != nil || (w != nil) != want {
			t.Errorf("WRITEBACK=%s: worker %v, %v", env, w, err)
		}
		if got := c.writebackSources()[recontact.SourceZendesk]; got != want {
			t.Errorf("WRITEBACK=%s: store queues Zendesk write-backs: %v", env, got)
		}
	}
}
