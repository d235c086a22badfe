package backfill

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/bookings"
	"github.com/recontact/recontact/store"
)

// maxLine caps one JSON Lines record; a booking is a few hundred bytes.
const maxLine = 1 << 20

// ReadBookings parses a whole booking file, CSV with a header row or JSON
// Lines (a first non-blank byte '{' means JSON), through the booking
// connector's validation. The first bad record fails the file with an error
// naming its line and column, e.g. `bookings.csv:17: check_in: want
// YYYY-MM-DD or RFC 3339, got "2026-13-01"`; name is the file name shown.
func ReadBookings(name string, r io.Reader) ([]*recontact.Booking, error) {
	// The whole file is validated before anything is loaded, so it is held
	// anyway; a million bookings is some 200 MB of records at most.
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")) // the byte-order mark some spreadsheets write
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) == 0:
		return nil, fmt.Errorf("%s: empty file", name)
	case trimmed[0] == '{':
		return readJSONL(name, data)
	}
	return readCSV(name, data)
}

func readJSONL(name string, data []byte) ([]*recontact.Booking, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var out []*recontact.Booking
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		b, err := bookings.ParseRecord(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s%s", name, line, recontact.ErrorMessage(err), got(err, jsonField(text)))
		}
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	return out, nil
}

func readCSV(name string, data []byte) ([]*recontact.Booking, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1 // checked below, with a clearer message
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", name, err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.ToLower(strings.TrimSpace(h))
	}
	for _, need := range []string{bookings.FieldID, bookings.FieldPartnerID, bookings.FieldCustomerEmail, bookings.FieldCreatedAt} {
		if !slices.Contains(cols, need) {
			return nil, fmt.Errorf("%s:%d: header has no %s column", name, headerLine(cr), need)
		}
	}
	var out []*recontact.Booking
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err) // csv.ParseError names line and column
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(cols) {
			return nil, fmt.Errorf("%s:%d: %d columns, the header has %d", name, line, len(rec), len(cols))
		}
		row := make(map[string]string, len(cols))
		for i, c := range cols {
			row[c] = rec[i]
		}
		b, err := bookings.FromFields(row)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s%s", name, line, recontact.ErrorMessage(err), got(err, func(f string) string { return row[f] }))
		}
		out = append(out, b)
	}
}

func headerLine(cr *csv.Reader) int {
	line, _ := cr.FieldPos(0)
	return line
}

// got quotes the offending value after a "field: …" message, so the operator
// sees what to fix; "missing field" messages need nothing more.
func got(err error, value func(field string) string) string {
	msg := recontact.ErrorMessage(err)
	field, _, ok := strings.Cut(msg, ":")
	if !ok || strings.ContainsRune(field, ' ') {
		return ""
	}
	return fmt.Sprintf(", got %q", value(field))
}

// jsonField reads one field of a JSON record as text, for error messages.
func jsonField(line []byte) func(string) string {
	return func(field string) string {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			return ""
		}
		if v, ok := m[field]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
}

// ImportStats is what an import did.
type ImportStats struct {
	Records int
}

// ImportBookings validates the whole file first and then loads it in one
// transaction, so a rejected file leaves nothing behind. Bookings merge like
// webhooks (keyed by id, an older version never overwrites a newer one), so
// importing a file again changes nothing.
func ImportBookings(ctx context.Context, s *store.Store, name string, r io.Reader) (ImportStats, error) {
	bs, err := ReadBookings(name, r)
	if err != nil {
		return ImportStats{}, err
	}
	if err := s.ImportBookings(ctx, bs); err != nil {
		return ImportStats{}, err
	}
	return ImportStats{Records: len(bs)}, nil
}
