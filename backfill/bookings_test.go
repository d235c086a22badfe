package backfill_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact/backfill"
	"github.com/recontact/recontact/store"
	"github.com/recontact/recontact/store/storetest"
)

const goodCSV = `id,partner_id,customer_email,created_at,check_in,check_out,status
bk-1,partner-a,Alice@Example.com,2026-03-01T09:00:00Z,2026-03-10,2026-03-12,confirmed
bk-2,partner-a,bob@example.com,2026-03-02,2026-03-11,2026-03-15,
bk-3,partner-b,carol@example.com,2026-03-03,,,cancelled
`

func bookingCount(t *testing.T, s *store.Store) int {
	t.Helper()
	var n int
	if err := s.DB().Get(&n, `SELECT COUNT(*) FROM bookings`); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportBookings(t *testing.T) {
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for range 2 { // a second import of the same file changes nothing
			st, err := backfill.ImportBookings(ctx, s, "bookings.csv", strings.NewReader(goodCSV))
			if err != nil || st.Records != 3 {
				t.Fatalf("import: %+v, %v; want 3 records", st, err)
			}
		}
		jsonl := `{"id":"bk-4","partner_id":"partner-b","customer_email":"dan@example.com","created_at":"2026-03-04T10:00:00Z","check_in":"2026-03-20","check_out":"2026-03-21"}

{"id":5,"partner_id":"partner-b","customer_email":"erin@example.com","created_at":"2026-03-05"}
`
		if _, err := backfill.ImportBookings(ctx, s, "more.jsonl", strings.NewReader(jsonl)); err != nil {
			t.Fatal(err)
		}
		if n := bookingCount(t, s); n != 5 {
			t.Errorf("%d bookings stored, want 5", n)
		}
		// Two counted bookings of partner-a, one of partner-b (bk-3 is cancelled).
		tot, _, err := s.Period(ctx, store.PeriodQuery{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		if tot.Bookings != 4 {
			t.Errorf("period bookings %d, want 4 (bk-3 cancelled, re-import not counted)", tot.Bookings)
		}
	})
}

func TestImportBookingsRejectsBadFile(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"bookings.csv", strings.Replace(goodCSV, "2026-03-11,2026-03-15", "2026-13-01,2026-03-15", 1),
			`bookings.csv:3: check_in: want YYYY-MM-DD or RFC 3339, got "2026-13-01"`},
		{"bookings.csv", goodCSV + "bk-9,partner-a,,2026-03-02,,,\n", `bookings.csv:5: missing field customer_email`},
		{"bookings.csv", goodCSV + "bk-9,partner-a\n", `bookings.csv:5: 2 columns, the header has 7`},
		{"bookings.csv", "id,partner_id,created_at\n", `bookings.csv:1: header has no customer_email column`},
		{"b.jsonl", `{"id":"bk-1","partner_id":"p","customer_email":"a@example.com","created_at":"2026-03-01"}` + "\n" +
			`{"id":"bk-2","partner_id":"p","customer_email":"not an address","created_at":"2026-03-01"}`,
			`b.jsonl:2: customer_email: not a plain e-mail address, got "not an address"`},
		{"b.jsonl", `{"id":"bk-1","partner_id":"p","customer_email":"a@example.com","created_at":"2026-03-01"}` + "\n[1]\n", `b.jsonl:2: record is not a JSON object`},
		{"empty.csv", "\n \n", `empty.csv: empty file`},
	}
	storetest.Each(t, store.Options{}, func(t *testing.T, s *store.Store) {
		for _, c := range cases {
			_, err := backfill.ImportBookings(context.Background(), s, c.name, strings.NewReader(c.file))
			if err == nil || err.Error() != c.want {
				t.Errorf("import %q: error %v, want %s", c.file, err, c.want)
			}
		}
		if n := bookingCount(t, s); n != 0 {
			t.Errorf("%d bookings stored from rejected files, want none", n)
		}
	})
}
