package zendesk

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recontact/recontact"
)

// The vector of zendesk.md §1.2 (computed by us with the documented rule).
const (
	vecSecret    = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
	vecTimestamp = "2021-03-25T05:09:27Z"
	vecBody      = `{"ticket_id":"123"}`
	vecSignature = "YmkQCnSLfGdf5pcvqNFcuOtUpzUb/ss09fM0NCi/wvw="
)

var vecTime = time.Date(2021, 3, 25, 5, 9, 27, 0, time.UTC)

func signed(sig, ts string) http.Header {
	h := http.Header{}
	if sig != "" {
		h.Set(HeaderSignature, sig)
	}
	if ts != "" {
		h.Set(HeaderTimestamp, ts)
	}
	return h
}

func TestSignVector(t *testing.T) {
	if got := Sign(vecSecret, vecTimestamp, []byte(vecBody)); got != vecSignature {
		t.Fatalf("Sign(vector) = %q, want %q", got, vecSignature)
	}
}

func TestVerify(t *testing.T) {
	const otherSecret = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
	otherSig := Sign(otherSecret, vecTimestamp, []byte(vecBody))
	tests := []struct {
		name    string
		v       Verifier
		h       http.Header
		body    string
		wantErr string // "" means the request verifies
	}{
		{"vector", Verifier{Secret: vecSecret}, signed(vecSignature, vecTimestamp), vecBody, ""},
		{"lower-case header names", Verifier{Secret: vecSecret},
			http.Header{"X-Zendesk-Webhook-Signature": {vecSignature}, "X-Zendesk-Webhook-Signature-Timestamp": {vecTimestamp}}, vecBody, ""},
		{"other secret", Verifier{Secret: otherSecret}, signed(otherSig, vecTimestamp), vecBody, ""},
		{"test secret allowed", Verifier{Secret: otherSecret, AllowTestSecret: true}, signed(vecSignature, vecTimestamp), vecBody, ""},
		{"at tolerance edge", Verifier{Secret: vecSecret, Now: func() time.Time { return vecTime.Add(DefaultTolerance) }},
			signed(vecSignature, vecTimestamp), vecBody, ""},
		{"empty body signs timestamp alone", Verifier{Secret: vecSecret}, signed(Sign(vecSecret, vecTimestamp, nil), vecTimestamp), "", ""},

		{"empty secret", Verifier{}, signed(Sign("", vecTimestamp, []byte(vecBody)), vecTimestamp), vecBody, "no zendesk signing secret configured"},
		{"empty secret with test secret allowed", Verifier{AllowTestSecret: true}, signed(vecSignature, vecTimestamp), vecBody, "no zendesk signing secret configured"},
		{"missing signature", Verifier{Secret: vecSecret}, signed("", vecTimestamp), vecBody, "missing header X-Zendesk-Webhook-Signature"},
		{"missing timestamp", Verifier{Secret: vecSecret}, signed(vecSignature, ""), vecBody, "missing header X-Zendesk-Webhook-Signature-Timestamp"},
		{"unparsable timestamp", Verifier{Secret: vecSecret}, signed(vecSignature, "25 Mar 2021 05:09"), vecBody, "signature timestamp is not RFC 3339"},
		{"stale timestamp", Verifier{Secret: vecSecret, Now: func() time.Time { return vecTime.Add(DefaultTolerance + time.Second) }},
			signed(vecSignature, vecTimestamp), vecBody, "signature timestamp is too old"},
		{"future timestamp", Verifier{Secret: vecSecret, Now: func() time.Time { return vecTime.Add(-DefaultTolerance - time.Second) }},
			signed(vecSignature, vecTimestamp), vecBody, "signature timestamp is in the future"},
		{"custom tolerance", Verifier{Secret: vecSecret, Tolerance: time.Minute, Now: func() time.Time { return vecTime.Add(2 * time.Minute) }},
			signed(vecSignature, vecTimestamp), vecBody, "signature timestamp is too old"},
		{"signature not base64", Verifier{Secret: vecSecret}, signed("not base64!", vecTimestamp), vecBody, "signature is not base64"},
		{"wrong secret", Verifier{Secret: otherSecret}, signed(vecSignature, vecTimestamp), vecBody, "signature does not match"},
		{"test secret not allowed", Verifier{Secret: otherSecret}, signed(vecSignature, vecTimestamp), vecBody, "signature does not match"},
		{"body changed", Verifier{Secret: vecSecret}, signed(vecSignature, vecTimestamp), `{"ticket_id":"124"}`, "signature does not match"},
		{"body re-encoded", Verifier{Secret: vecSecret}, signed(vecSignature, vecTimestamp), `{"ticket_id": "123"}`, "signature does not match"},
		{"timestamp changed", Verifier{Secret: vecSecret}, signed(vecSignature, "2021-03-25T05:09:28Z"), vecBody, "signature does not match"},
		// The older revision of Zendesk's page signed body+timestamp (§1.2);
		// we implement timestamp+body only.
		{"body then timestamp", Verifier{Secret: vecSecret},
			signed(Sign(vecSecret, "", []byte(vecBody+vecTimestamp)), vecTimestamp), vecBody, "signature does not match"},
		{"secret decoded from base64", Verifier{Secret: "this_secret_is_for_testing_only"}, signed(vecSignature, vecTimestamp), vecBody, "signature does not match"},
		{"truncated signature", Verifier{Secret: vecSecret}, signed(vecSignature[:24], vecTimestamp), vecBody, "signature does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.v
			if v.Now == nil {
				v.Now = func() time.Time { return vecTime }
			}
			err := v.Verify(tt.h, []byte(tt.body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			var e *recontact.Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify = %v, want *recontact.Error %q", err, tt.wantErr)
			}
			if e.Code != recontact.EUnauthorized || e.Message != tt.wantErr {
				t.Fatalf("Verify = %s %q, want %s %q", e.Code, e.Message, recontact.EUnauthorized, tt.wantErr)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(vecSecret, vecTimestamp, []byte(vecBody), vecSignature)
	f.Add("", vecTimestamp, []byte(vecBody), vecSignature)
	f.Add("s", "2021-03-25T05:09:27.5+01:00", []byte{}, "")
	f.Add("s", "garbage", []byte("\x00\xff"), "====")
	f.Fuzz(func(t *testing.T, secret, ts string, body []byte, sig string) {
		v := Verifier{Secret: secret, Now: func() time.Time { return vecTime }}
		err := v.Verify(signed(sig, ts), body)
		if err != nil && recontact.ErrorCode(err) != recontact.EUnauthorized {
			t.Fatalf("Verify error code = %s, want %s (err %v)", recontact.ErrorCode(err), recontact.EUnauthorized, err)
		}
		if err == nil {
			got, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
			if secret == "" || derr != nil || !bytes.Equal(got, mac(secret, ts, body)) {
				t.Fatalf("Verify accepted secret=%q ts=%q sig=%q body=%q", secret, ts, sig, body)
			}
		}
		// A correct signature over a fresh timestamp always verifies.
		at, perr := time.Parse(time.RFC3339, ts)
		want := secret != "" && perr == nil && vecTime.Sub(at).Abs() <= DefaultTolerance
		err = v.Verify(signed(Sign(secret, ts, body), ts), body)
		if (err == nil) != want {
			t.Fatalf("Verify(Sign(%q, %q, %q)) = %v, want success %v", secret, ts, body, err, want)
		}
	})
}
