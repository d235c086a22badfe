// Package zendesk connects recontact to Zendesk Support: it verifies and parses
// the webhooks Zendesk sends (trigger webhooks and event-subscribed webhooks)
// and calls the REST API to read tickets and to write tags and internal notes.
// Vendor facts, with their sources, are in docs/zendesk.md; section numbers in
// comments (§1.2) refer to it.
package zendesk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/recontact/recontact"
)

// Webhook request headers (§1.1). Header.Get canonicalises, so case does not matter.
const (
	HeaderSignature = "X-Zendesk-Webhook-Signature"
	HeaderTimestamp = "X-Zendesk-Webhook-Signature-Timestamp"
)

// TestSecret signs the test sends of Zendesk's webhook builder before a webhook
// is saved (§1.3). It is public, so it is accepted only when asked for.
const TestSecret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="

// DefaultTolerance is the replay window used when Verifier.Tolerance is 0.
// Zendesk documents none (§1.2); five minutes absorbs clock skew and queueing.
const DefaultTolerance = 5 * time.Minute

// Verifier checks that a webhook request comes from Zendesk.
type Verifier struct {
	// Secret is the webhook's signing secret, used as the string it is (§1.2):
	// not base64-decoded although it looks like base64. Empty verifies nothing.
	Secret string
	// AllowTestSecret also accepts TestSecret; for development setups only.
	AllowTestSecret bool
	// Tolerance is how far the signed timestamp may be from Now, either way.
	Tolerance time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verify returns nil when the signature headers authenticate body, and an
// EUnauthorized *recontact.Error naming the reason otherwise. body must be the
// raw bytes received: re-encoded JSON would not match.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	if v.Secret == "" {
		// Signing with an empty key is possible, so an unset secret must not
		// quietly turn into one that anybody can use.
		return recontact.Errorf(recontact.EUnauthorized, "no zendesk signing secret configured")
	}
	sig := strings.TrimSpace(h.Get(HeaderSignature))
	if sig == "" {
		return recontact.Errorf(recontact.EUnauthorized, "missing header "+HeaderSignature)
	}
	ts := h.Get(HeaderTimestamp)
	if ts == "" {
		return recontact.Errorf(recontact.EUnauthorized, "missing header "+HeaderTimestamp)
	}
	// The timestamp is checked before the MAC, so a captured request cannot be
	// replayed once it is stale.
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return recontact.Errorf(recontact.EUnauthorized, "signature timestamp is not RFC 3339")
	}
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	switch age := now().Sub(at); {
	case age > tolerance:
		return recontact.Errorf(recontact.EUnauthorized, "signature timestamp is too old")
	case age < -tolerance:
		return recontact.Errorf(recontact.EUnauthorized, "signature timestamp is in the future")
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return recontact.Errorf(recontact.EUnauthorized, "signature is not base64")
	}
	if hmac.Equal(got, mac(v.Secret, ts, body)) {
		return nil
	}
	if v.AllowTestSecret && hmac.Equal(got, mac(TestSecret, ts, body)) {
		return nil
	}
	return recontact.Errorf(recontact.EUnauthorized, "signature does not match")
}

// Sign returns the value Zendesk sends in X-Zendesk-Webhook-Signature for body
// sent at timestamp: base64(HMAC-SHA256(secret, timestamp + body)) (§1.2).
// Tests use it to sign deliveries.
func Sign(secret, timestamp string, body []byte) string {
	return base64.StdEncoding.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write(body)
	return m.Sum(nil)
}
