// Package freshdesk is recontact's Freshdesk connector: it authenticates and
// parses the automation-rule webhook, and reads and writes tickets through
// API v2. Vendor facts and their sources are in docs/freshdesk.md; comments
// cite its sections.
//
// The webhook is a trigger only (freshdesk.md §1.1): it says which ticket
// changed, and a follow-up job reads the truth from the API.
package freshdesk

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/recontact/recontact"
)

// HeaderSecret is the custom header an automation rule can send our secret in
// ("Add custom headers", freshdesk.md §1).
const HeaderSecret = "X-Recontact-Secret"

var errNoSecret = errors.New("no freshdesk webhook secret configured")

// Verifier authenticates Freshdesk webhook calls. Freshdesk signs nothing
// (freshdesk.md §1.1), so the rule must carry a shared secret: either in the
// X-Recontact-Secret header, or as the password of the rule's "Requires
// authentication" username/password, which arrives as HTTP Basic auth (the
// user name is ignored).
type Verifier struct {
	Secret string
}

// Verify checks the secret. The body is not covered by anything: TLS is all
// that protects it in transit.
func (v Verifier) Verify(h http.Header, _ []byte) error {
	got := h.Get(HeaderSecret)
	if got == "" {
		// BasicAuth lives on Request; borrow one for the header alone.
		if _, pw, ok := (&http.Request{Header: h}).BasicAuth(); ok {
			got = pw
		}
	}
	if got == "" {
		return recontact.Errorf(recontact.EUnauthorized, "missing secret (X-Recontact-Secret header or basic auth password)")
	}
	if v.Secret == "" {
		// Startup refuses an empty secret; this only guards a zero Verifier.
		return recontact.Wrap(recontact.EUnauthorized, "wrong secret", errNoSecret)
	}
	// Comparing fixed-length digests keeps the secret's length out of the
	// timing, which ConstantTimeCompare on the raw strings would leak.
	want, have := sha256.Sum256([]byte(v.Secret)), sha256.Sum256([]byte(got))
	if subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
		return recontact.Errorf(recontact.EUnauthorized, "wrong secret")
	}
	return nil
}
