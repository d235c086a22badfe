package metrics

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

const day = 24 * time.Hour

// ParseWindow reads a window setting: a Go duration ("36h", "90m") or a whole
// number of days ("7d"), which time.ParseDuration lacks and settings are
// naturally written in. Days are 24 hours: windows are measured between
// instants, not calendar dates. A window must be positive.
func ParseWindow(s string) (time.Duration, error) {
	// No Go duration unit ends in "d", so the suffix is unambiguous.
	n, inDays := strings.CutSuffix(s, "d")
	if !inDays {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("window: %w", err)
		}
		if d <= 0 {
			return 0, fmt.Errorf("window %q must be positive", s)
		}
		return d, nil
	}
	days, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("window %q: days must be a whole number", s)
	}
	// Checked before multiplying, which could wrap around to a positive window.
	switch {
	case days <= 0:
		return 0, fmt.Errorf("window %q must be positive", s)
	case days > math.MaxInt64/int64(day):
		return 0, fmt.Errorf("window %q is too long", s)
	}
	return time.Duration(days) * day, nil
}
