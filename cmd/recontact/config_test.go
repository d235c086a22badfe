package main

import (
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.DatabaseURL != "sqlite:recontact.db" || time.Duration(c.FCRWindow) != 7*24*time.Hour || time.Duration(c.RepeatWindow) != 168*time.Hour {
		t.Errorf("defaults: %+v", c)
	}
}

// TestConfigErrorsNameTheVariable: a bad value stops the start with one line
// naming the variable and what is wrong.
func TestConfigErrorsNameTheVariable(t *testing.T) {
	for env, want := range map[string]string{
		"PORT=abc":                        "PORT: invalid syntax",
		"PORT=70000":                      "PORT: must be a port number",
		"REPEAT_WINDOW=soon":              "REPEAT_WINDOW:",
		"FCR_WINDOW=-1h":                  "FCR_WINDOW:",
		"LOG_FORMAT=xml":                  "LOG_FORMAT: must be text or json",
		"CONTACT_RATIO_LOW=0.5":           "CONTACT_RATIO_LOW: must be between",
		"ZENDESK_API_TOKEN=t":             "ZENDESK_API_TOKEN: set ZENDESK_EMAIL",
		"ZENDESK_ALLOW_TEST_SECRET=maybe": "ZENDESK_ALLOW_TEST_SECRET:",
	} {
		k, v, _ := strings.Cut(env, "=")
		_, err := loadConfig(map[string]string{k: v})
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line starting %q", env, err, want)
		}
	}
	if _, err := loadConfig(map[string]string{"REPEAT_WINDOW": "7d"}); err != nil {
		t.Errorf("REPEAT_WINDOW=7d: %v", err)
	}
}

func TestBadBookingSecretStopsStart(t *testing.T) {
	c, err := loadConfig(map[string]string{"BOOKING_WEBHOOK_SECRET": "whsec_"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := connectors(c); err == nil || !strings.Contains(err.Error(), "BOOKING_WEBHOOK_SECRET") {
		t.Errorf("empty whsec_ secret: %v, want an error naming BOOKING_WEBHOOK_SECRET", err)
	}
}

// TestREADMEListsEveryVariable keeps the README's table in step with config.
func TestREADMEListsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, def := range variables() {
		row := "| `" + name + "` |"
		i := strings.Index(string(readme), row)
		if i < 0 {
			t.Errorf("README has no row for %s", name)
			continue
		}
		line := string(readme[i:])
		line = line[:strings.IndexByte(line, '\n')]
		if def != "" && !strings.Contains(line, "`"+def+"`") {
			t.Errorf("README row for %s does not show its default %q: %s", name, def, line)
		}
	}
}

// TestTuneGC raises the collector's target only when GOGC is unset.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		env  map[string]string
		want int
	}{
		{map[string]string{}, gcPercent},
		{map[string]string{"GOGC": "100"}, 100},
	} {
		debug.SetGCPercent(100)
		tuneGC(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("env %v: GC percent %d, want %d", tc.env, got, tc.want)
		}
	}
}
