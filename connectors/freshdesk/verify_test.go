package freshdesk

import (
	"errors"
	"net/http"
	"testing"

	"github.com/recontact/recontact"
)

func TestVerify(t *testing.T) {
	const secret = "s3cret-value"
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	basic := func(user, pw string) http.Header {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(user, pw)
		return r.Header
	}
	const missing = "missing secret (X-Recontact-Secret header or basic auth password)"
	tests := []struct {
		name    string
		secret  string
		h       http.Header
		wantErr string
	}{
		{"header", secret, header("X-Recontact-Secret", secret), ""},
		{"header, any case", secret, header("x-recontact-secret", secret), ""},
		{"basic auth password, any user", secret, basic("freshdesk", secret), ""},
		{"basic auth, empty user", secret, basic("", secret), ""},
		{"nothing", secret, header(), missing},
		{"basic auth without password", secret, basic(secret, ""), missing},
		{"bearer is not basic", secret, header("Authorization", "Bearer "+secret), missing},
		{"wrong header", secret, header("X-Recontact-Secret", "s3cret-valuE"), "wrong secret"},
		{"prefix of the secret", secret, header("X-Recontact-Secret", "s3cret"), "wrong secret"},
		{"secret plus more", secret, header("X-Recontact-Secret", secret+"x"), "wrong secret"},
		{"wrong password", secret, basic("u", "nope"), "wrong secret"},
		{"secret as the user name only", secret, basic(secret, "X"), "wrong secret"},
		{"header is used when both are sent", secret, func() http.Header {
			h := basic("u", secret)
			h.Set("X-Recontact-Secret", "nope")
			return h
		}(), "wrong secret"},
		{"no secret configured", "", header("X-Recontact-Secret", "anything"), "wrong secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verifier{Secret: tt.secret}.Verify(tt.h, []byte(`{"ticket_id":1}`))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if c, msg := recontact.ErrorCode(err), recontact.ErrorMessage(err); c != recontact.EUnauthorized || msg != tt.wantErr {
				t.Fatalf("Verify = %v, want unauthorized %q", err, tt.wantErr)
			}
		})
	}
	// The log, not the caller, learns why an unconfigured verifier refuses.
	if err := (Verifier{}).Verify(header("X-Recontact-Secret", "x"), nil); !errors.Is(err, errNoSecret) {
		t.Errorf("empty secret: error %v does not wrap errNoSecret", err)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("secret", "secret", false)
	f.Add("secret", "secreT", true)
	f.Add("", "", false)
	f.Fuzz(func(t *testing.T, secret, got string, viaBasic bool) {
		h := http.Header{}
		if viaBasic {
			r, _ := http.NewRequest(http.MethodPost, "/", nil)
			r.SetBasicAuth("freshdesk", got)
			h = r.Header
		} else {
			h.Set(HeaderSecret, got)
		}
		err := Verifier{Secret: secret}.Verify(h, nil)
		if want := secret != "" && got == secret; (err == nil) != want {
			t.Fatalf("secret %q, sent %q (basic=%v): Verify = %v, want ok=%v", secret, got, viaBasic, err, want)
		}
		if err != nil && recontact.ErrorCode(err) != recontact.EUnauthorized {
			t.Fatalf("code %s, want unauthorized", recontact.ErrorCode(err))
		}
	})
}
