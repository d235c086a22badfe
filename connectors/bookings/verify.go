// Package bookings receives the booking system's webhooks, which are signed
// per the Standard Webhooks specification (docs: standard-webhooks.md), and
// turns them, or imported rows, into recontact.Booking values.
package bookings

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/recontact/recontact"
)

// Standard Webhooks header names (standard-webhooks.md §1.1). http.Header.Get
// canonicalises, so any capitalisation on the wire works.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// Tolerance is how far webhook-timestamp may be from our clock, either way.
// The spec names no number; every official library uses 5 minutes
// (standard-webhooks.md §2).
const Tolerance = 5 * time.Minute

// minKeyLen is the spec's minimum for the decoded secret (standard-webhooks.md
// §1.3: 24 to 64 random bytes). Anything shorter is a configuration mistake.
const minKeyLen = 24

// Verifier checks Standard Webhooks `v1` (HMAC-SHA256) signatures.
//
// We implement the check rather than call the official library's Verify
// because the library reads time.Now directly and v0.0.1 accepts an empty
// secret (standard-webhooks.md §4.1); the tests cross-check our signatures
// against the library's.
type Verifier struct {
	key []byte
	now func() time.Time
}

// NewVerifier decodes secret ("whsec_" + standard base64, or the bare base64)
// and fails on an empty, undecodable or too short one, so a bad configuration
// stops the start instead of accepting forged deliveries. now defaults to
// time.Now.
func NewVerifier(secret string, now func() time.Time) (*Verifier, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{key: key, now: now}, nil
}

func decodeSecret(secret string) ([]byte, error) {
	b64 := strings.TrimPrefix(strings.TrimSpace(secret), "whsec_")
	if b64 == "" {
		return nil, recontact.Errorf(recontact.EInvalid, "bookings webhook secret is empty")
	}
	// Padded standard base64, as the official libraries decode it
	// (standard-webhooks.md §4.1 caveat 2).
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, recontact.Wrap(recontact.EInvalid, "bookings webhook secret is not whsec_ + standard base64", err)
	}
	if len(key) < minKeyLen {
		return nil, recontact.Errorf(recontact.EInvalid,
			fmt.Sprintf("bookings webhook secret decodes to %d bytes, want at least %d", len(key), minKeyLen))
	}
	return key, nil
}

// Verify checks the signature headers against the exact body bytes received.
// It checks the timestamp before the MAC, as the spec's libraries do, so a
// stale replay is refused without revealing whether its signature was good.
// Every failure is EUnauthorized with the precise reason.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	id, tsText, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	switch {
	case id == "":
		return unauthorized("missing " + HeaderID + " header")
	case tsText == "":
		return unauthorized("missing " + HeaderTimestamp + " header")
	case sigs == "":
		return unauthorized("missing " + HeaderSignature + " header")
	case strings.Contains(id, "."):
		// The signed content is id.timestamp.body; a dot in the id would let
		// the same MAC be read with a different timestamp (spec forbids it).
		return unauthorized(HeaderID + " must not contain '.'")
	}
	ts, err := parseTimestamp(tsText)
	if err != nil {
		return unauthorized(HeaderTimestamp + " is not a Unix time in seconds")
	}
	now := v.now()
	if d := now.Sub(ts); d > Tolerance {
		return unauthorized(fmt.Sprintf("%s is %s old, more than %s", HeaderTimestamp, d.Truncate(time.Second), Tolerance))
	}
	if d := ts.Sub(now); d > Tolerance {
		return unauthorized(fmt.Sprintf("%s is %s in the future, more than %s", HeaderTimestamp, d.Truncate(time.Second), Tolerance))
	}

	want := mac(v.key, id, ts, body)
	seenV1 := false
	// Several signatures may be sent during key rotation; any one matching is
	// enough, and versions we do not know (v1a, future ones) are skipped
	// (standard-webhooks.md §1.4).
	for _, entry := range strings.Split(sigs, " ") {
		version, b64, ok := strings.Cut(entry, ",")
		if !ok || version != "v1" {
			continue
		}
		seenV1 = true
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	if !seenV1 {
		return unauthorized("no v1 signature in " + HeaderSignature + " header")
	}
	return unauthorized("no matching v1 signature")
}

// Sign returns the "v1,<base64>" signature of a delivery, for tests and tools
// that play the booking system.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts, body)), nil
}

// mac signs id.timestamp.body. The timestamp is written as its decimal value,
// not the header's text, like the official libraries (standard-webhooks.md §1.2).
func mac(key []byte, id string, ts time.Time, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// parseTimestamp accepts only plain decimal digits: strconv alone would also
// take a sign, which no producer sends.
func parseTimestamp(s string) (time.Time, error) {
	if s == "" || len(s) > 12 || strings.Trim(s, "0123456789") != "" {
		return time.Time{}, fmt.Errorf("bad timestamp %q", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(n, 0), nil
}

func unauthorized(reason string) error { return recontact.Errorf(recontact.EUnauthorized, reason) }
