package zendesk

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkParseTrigger parses the trigger body the ingest benchmark sends:
// every webhook pays for it on the acknowledgement path.
func BenchmarkParseTrigger(b *testing.B) {
	body := []byte(`{"ticket_id":"123456789","created_at":"2026-10-05T10:00Z","updated_at":"2026-10-05T10:01Z",` +
		`"status":"Open","via":"Mail","requester_email":"c123456789@example.com","org_external_id":"p1"}`)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(http.Header{}, body, now); err != nil {
			b.Fatal(err)
		}
	}
}
