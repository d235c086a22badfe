package metrics

import "math"

// Contact ratio bands (metrics.md).
const (
	BandLow      = "low"
	BandModerate = "moderate"
	BandHigh     = "high"
)

// Band names the contact ratio's band: low below RatioLow, high above
// RatioHigh, moderate from one to the other inclusive.
func Band(ratio float64, s Settings) string {
	switch {
	case ratio < s.RatioLow:
		return BandLow
	case ratio > s.RatioHigh:
		return BandHigh
	}
	return BandModerate
}

// Totals are the counts over a period (or one group of it) and the rates
// derived from them. A rate whose denominator is zero is nil, so it marshals
// as null: a rate over nothing is unknown, not 0 %.
type Totals struct {
	Contacts                int `json:"contacts"`
	Customers               int `json:"customers"`
	Bookings                int `json:"bookings"`
	Resolved                int `json:"resolved"`
	FirstContactResolved    int `json:"first_contact_resolved"`
	RepeatCustomers         int `json:"repeat_customers"`
	ContactsFollowedByOrder int `json:"contacts_followed_by_order"`

	ContactRatio        *float64 `json:"contact_ratio"`
	ContactRatioBand    *string  `json:"contact_ratio_band"`
	ContactsPerCustomer *float64 `json:"contacts_per_customer"`
	FCRRate             *float64 `json:"fcr_rate"`
	RepeatContactRate   *float64 `json:"repeat_contact_rate"`
	ContactToOrderRate  *float64 `json:"contact_to_order_rate"`
}

// Derive sets the rates from the counts, each rounded to 4 decimals. The band
// is taken from the rounded ratio, so the two figures a reader sees never
// disagree (0.05 is always moderate by default).
func (t *Totals) Derive(s Settings) {
	t.ContactRatio = rate(t.Contacts, t.Bookings)
	t.ContactRatioBand = nil
	if t.ContactRatio != nil {
		band := Band(*t.ContactRatio, s)
		t.ContactRatioBand = &band
	}
	t.ContactsPerCustomer = rate(t.Contacts, t.Customers)
	t.FCRRate = rate(t.FirstContactResolved, t.Resolved)
	t.RepeatContactRate = rate(t.RepeatCustomers, t.Customers)
	t.ContactToOrderRate = rate(t.ContactsFollowedByOrder, t.Contacts)
}

// rate returns num/den rounded to 4 decimals, or nil when den is 0.
func rate(num, den int) *float64 {
	if den == 0 {
		return nil
	}
	r := math.Round(float64(num)/float64(den)*1e4) / 1e4
	return &r
}
