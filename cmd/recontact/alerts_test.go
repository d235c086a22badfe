package main

import (
	"strings"
	"testing"
	"time"
)

func TestAlertConfig(t *testing.T) {
	c, err := loadConfig(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.AlertRepeatRateAbove != nil || c.AlertFCRRateBelow != nil || time.Duration(c.AlertWindow) != 7*24*time.Hour ||
		time.Duration(c.AlertCheckInterval) != time.Minute || c.AlertWebhookURL != "" {
		t.Errorf("alert defaults: %+v", c)
	}
	c, err = loadConfig(map[string]string{"ALERT_WEBHOOK_URL": "https://hooks.example.com/T1/B2/secret",
		"ALERT_REPEAT_RATE_ABOVE": "0.2", "ALERT_FCR_RATE_BELOW": "0", "ALERT_WINDOW": "14d", "ALERT_CHECK_INTERVAL": "30s"})
	if err != nil {
		t.Fatal(err)
	}
	if *c.AlertRepeatRateAbove != 0.2 || c.AlertFCRRateBelow == nil || *c.AlertFCRRateBelow != 0 ||
		time.Duration(c.AlertWindow) != 14*24*time.Hour || time.Duration(c.AlertCheckInterval) != 30*time.Second {
		t.Errorf("alert settings: %+v", c)
	}

	for env, want := range map[string]string{
		"ALERT_WEBHOOK_URL=hooks.example.com/secret-path": "ALERT_WEBHOOK_URL: must be an absolute http(s) URL",
		"ALERT_REPEAT_RATE_ABOVE=20":                      "ALERT_REPEAT_RATE_ABOVE: must be a rate between 0 and 1",
		"ALERT_FCR_RATE_BELOW=high":                       "ALERT_FCR_RATE_BELOW:",
		"ALERT_WINDOW=0s":                                 "ALERT_WINDOW:",
		"ALERT_CHECK_INTERVAL=10ms":                       "ALERT_CHECK_INTERVAL: must be at least 1s",
	} {
		k, v, _ := strings.Cut(env, "=")
		_, err := loadConfig(map[string]string{k: v})
		if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "secret-path") {
			t.Errorf("%s: got %v, want %q (and no URL)", env, err, want)
		}
	}
}
