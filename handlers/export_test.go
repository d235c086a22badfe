package handlers_test

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

func (e *env) getRaw(path string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

func TestMetricsCSV(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		e := newEnv(t, s)
		day := time.Date(2026, 10, 5, 10, 0, 0, 0, time.UTC)
		// A partner key with a comma and quotes, as the JSON bodies carry it.
		const tricky = `Hotel \"Zur Post\", Wien`
		for i := range 4 {
			e.bookingMade(fmt.Sprint("bk-", i), fmt.Sprintf("g%d@example.com", i), tricky, day, "confirmed")
		}
		e.ticketMade("1", "g1@example.com", tricky, "open", day, day)
		e.ticketMade("2", "g2@example.com", "no-bookings", "open", day.Add(time.Hour), day.Add(time.Hour))
		e.evaluate()

		q := "from=2026-10-01&to=2026-11-01&group_by=partner"
		resp, body := e.getRaw("/api/v1/metrics?" + q + "&format=csv")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="recontact-metrics-20261001-20261101-by-partner.csv"` {
			t.Errorf("Content-Disposition %q", cd)
		}
		if !strings.Contains(body, "\n\"Hotel \"\"Zur Post\"\", Wien\",") {
			t.Errorf("partner key not escaped as CSV:\n%s", body)
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		header := "key,contacts,customers,bookings,resolved,first_contact_resolved,repeat_customers,contacts_followed_by_order," +
			"contact_ratio,contact_ratio_band,contacts_per_customer,fcr_rate,repeat_contact_rate,contact_to_order_rate"
		if got := strings.Join(rows[0], ","); got != header {
			t.Fatalf("header\n%s\nwant\n%s", got, header)
		}
		// The same fields as the JSON totals, in the same order.
		js := e.metrics(q)
		totals := js["totals"].(map[string]any)
		if len(totals) != len(rows[0])-1 {
			t.Errorf("JSON totals have %d fields, CSV %d", len(totals), len(rows[0])-1)
		}
		byKey := map[string][]string{}
		for _, r := range rows[1:] {
			byKey[r[0]] = r
		}
		if rows[1][0] != "total" || len(rows) != 4 {
			t.Fatalf("rows: %q", rows)
		}
		for i, col := range rows[0][1:] {
			if want := fmt.Sprint(orEmpty(totals[col])); rows[1][i+1] != want {
				t.Errorf("total %s = %q, JSON says %q", col, rows[1][i+1], want)
			}
		}
		hotel := byKey[`Hotel "Zur Post", Wien`]
		if hotel == nil || hotel[col(rows[0], "contact_ratio")] != "0.25" || hotel[col(rows[0], "contact_ratio_band")] != "high" {
			t.Errorf("hotel row %q", hotel)
		}
		// No bookings: the ratio and its band are null, so empty; the
		// rates over resolved contacts are null too (none resolved).
		nb := byKey["no-bookings"]
		for _, c := range []string{"contact_ratio", "contact_ratio_band", "fcr_rate"} {
			if nb == nil || nb[col(rows[0], c)] != "" {
				t.Errorf("no-bookings %s should be empty: %q", c, nb)
			}
		}
		if nb[col(rows[0], "contacts")] != "1" || nb[col(rows[0], "repeat_contact_rate")] != "0" {
			t.Errorf("no-bookings row %q", nb)
		}

		r := e.get("/api/v1/metrics?"+q+"&format=xml", adminToken)
		wantStatus(t, r, http.StatusBadRequest, "format must be json or csv")
		wantStatus(t, e.get("/api/v1/metrics?format=csv", ""), http.StatusUnauthorized, "")
		// format=json is the default's explicit spelling.
		wantStatus(t, e.get("/api/v1/metrics?"+q+"&format=json", adminToken), http.StatusOK, "")
	})
}

func col(header []string, name string) int { return slices.Index(header, name) }

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}
