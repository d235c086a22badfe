package metrics_test

import (
	"testing"
	"time"

	"github.com/recontact/recontact/metrics"
)

func TestParseWindow(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration // 0: an error is wanted
	}{
		{"7d", 7 * day},
		{"1d", day},
		{"36h", 36 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"106751d", 106751 * day}, // the longest a time.Duration holds
		{"106752d", 0},
		{"0", 0},
		{"0d", 0},
		{"0s", 0},
		{"-1h", 0},
		{"-7d", 0},
		{"-200000d", 0}, // wraps to a positive duration if multiplied unchecked
		{"1.5d", 0},
		{"d", 0},
		{"7", 0},
		{"7 d", 0},
		{"7D", 0},
		{"", 0},
		{"week", 0},
	}
	for _, tt := range tests {
		got, err := metrics.ParseWindow(tt.in)
		switch {
		case tt.want == 0 && err == nil:
			t.Errorf("ParseWindow(%q) = %v, want an error", tt.in, got)
		case tt.want != 0 && (err != nil || got != tt.want):
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
