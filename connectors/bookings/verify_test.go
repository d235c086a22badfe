package bookings

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/recontact/recontact"
)

// The published vector shared by every Standard Webhooks library's tests
// (standard-webhooks.md §3).
const (
	vecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vecID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vecTS     = 1614265330
	vecBody   = `{"test": 2432232314}`
	vecSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func fixedClock(unix int64) func() time.Time {
	return func() time.Time { return time.Unix(unix, 0) }
}

func vecHeaders() http.Header {
	h := http.Header{}
	h.Set(HeaderID, vecID)
	h.Set(HeaderTimestamp, strconv.Itoa(vecTS))
	h.Set(HeaderSignature, vecSig)
	return h
}

func TestSignPublishedVector(t *testing.T) {
	for _, secret := range []string{vecSecret, strings.TrimPrefix(vecSecret, "whsec_")} {
		got, err := Sign(secret, vecID, time.Unix(vecTS, 0), []byte(vecBody))
		if err != nil {
			t.Fatalf("Sign(%q): %v", secret, err)
		}
		if got != vecSig {
			t.Errorf("Sign(%q) = %q, want %q", secret, got, vecSig)
		}
	}
}

func TestNewVerifier(t *testing.T) {
	short := "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23))
	tests := []struct {
		name, secret, wantErr string
	}{
		{"published secret", vecSecret, ""},
		{"without prefix", strings.TrimPrefix(vecSecret, "whsec_"), ""},
		{"surrounding space", " " + vecSecret + "\n", ""},
		{"empty", "", "bookings webhook secret is empty"},
		{"prefix only", "whsec_", "bookings webhook secret is empty"},
		{"not base64", "whsec_not base64!", "not whsec_ + standard base64"},
		{"url-safe alphabet", "whsec_" + strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\xfb\xff", 16))), "/", "_"), "not whsec_ + standard base64"},
		{"missing padding", "whsec_" + base64.RawStdEncoding.EncodeToString(make([]byte, 25)), "not whsec_ + standard base64"},
		{"too short", short, "decodes to 23 bytes, want at least 24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(tt.secret, nil)
			if tt.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("NewVerifier(%q) = %v, %v; want a verifier", tt.secret, v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewVerifier(%q) error = %v, want %q", tt.secret, err, tt.wantErr)
			}
			if c := recontact.ErrorCode(err); c != recontact.EInvalid {
				t.Errorf("code = %s, want %s", c, recontact.EInvalid)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	const wrongSecret = "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	good := vecSig[len("v1,"):]
	tests := []struct {
		name    string
		now     int64 // clock, Unix seconds
		secret  string
		edit    func(h http.Header)
		body    string
		wantErr string // "" = valid
	}{
		{name: "published vector", wantErr: ""},
		{name: "several signatures, unknown versions skipped",
			edit: func(h http.Header) {
				h.Set(HeaderSignature, "v2,"+good+" v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1a,"+good+" "+vecSig)
			},
			wantErr: ""},
		{name: "five minutes old is still fresh", now: vecTS + 300, wantErr: ""},
		{name: "five minutes ahead is still fresh", now: vecTS - 300, wantErr: ""},
		{name: "too old", now: vecTS + 301, wantErr: "webhook-timestamp is 5m1s old, more than 5m0s"},
		{name: "too new", now: vecTS - 301, wantErr: "webhook-timestamp is 5m1s in the future, more than 5m0s"},
		{name: "stale is refused even with a good MAC", now: vecTS + 3600, wantErr: "old, more than"},
		{name: "library negative vector",
			edit:    func(h http.Header) { h.Set(HeaderSignature, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=") },
			wantErr: "no matching v1 signature"},
		{name: "empty v1 signature", edit: func(h http.Header) { h.Set(HeaderSignature, "v1,") }, wantErr: "no matching v1 signature"},
		{name: "signature not base64", edit: func(h http.Header) { h.Set(HeaderSignature, "v1,@@@@") }, wantErr: "no matching v1 signature"},
		{name: "only unknown versions", edit: func(h http.Header) { h.Set(HeaderSignature, "v1a,"+good+" v2,"+good) }, wantErr: "no v1 signature in webhook-signature header"},
		{name: "no version prefix", edit: func(h http.Header) { h.Set(HeaderSignature, good) }, wantErr: "no v1 signature"},
		{name: "missing id", edit: func(h http.Header) { h.Del(HeaderID) }, wantErr: "missing webhook-id header"},
		{name: "missing timestamp", edit: func(h http.Header) { h.Del(HeaderTimestamp) }, wantErr: "missing webhook-timestamp header"},
		{name: "missing signature", edit: func(h http.Header) { h.Del(HeaderSignature) }, wantErr: "missing webhook-signature header"},
		{name: "timestamp not a number", edit: func(h http.Header) { h.Set(HeaderTimestamp, "yesterday") }, wantErr: "webhook-timestamp is not a Unix time in seconds"},
		{name: "timestamp with sign", edit: func(h http.Header) { h.Set(HeaderTimestamp, "+1614265330") }, wantErr: "not a Unix time"},
		{name: "timestamp in milliseconds", edit: func(h http.Header) { h.Set(HeaderTimestamp, "1614265330000") }, wantErr: "not a Unix time"},
		{name: "timestamp changed", edit: func(h http.Header) { h.Set(HeaderTimestamp, "1614265331") }, wantErr: "no matching v1 signature"},
		{name: "id changed", edit: func(h http.Header) { h.Set(HeaderID, vecID+"x") }, wantErr: "no matching v1 signature"},
		{name: "id with a dot", edit: func(h http.Header) { h.Set(HeaderID, "msg.1") }, wantErr: "webhook-id must not contain '.'"},
		{name: "body changed", body: `{"test": 2432232315}`, wantErr: "no matching v1 signature"},
		{name: "body re-encoded", body: `{"test":2432232314}`, wantErr: "no matching v1 signature"},
		{name: "wrong secret", secret: wrongSecret, wantErr: "no matching v1 signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now, secret, body := tt.now, tt.secret, tt.body
			if now == 0 {
				now = vecTS
			}
			if secret == "" {
				secret = vecSecret
			}
			if body == "" {
				body = vecBody
			}
			v, err := NewVerifier(secret, fixedClock(now))
			if err != nil {
				t.Fatal(err)
			}
			h := vecHeaders()
			if tt.edit != nil {
				tt.edit(h)
			}
			err = v.Verify(h, []byte(body))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify = nil, want %q", tt.wantErr)
			}
			if c := recontact.ErrorCode(err); c != recontact.EUnauthorized {
				t.Errorf("code = %s, want %s", c, recontact.EUnauthorized)
			}
			if msg := recontact.ErrorMessage(err); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("message = %q, want %q", msg, tt.wantErr)
			}
		})
	}
}

// TestSignMatchesLibrary cross-checks our HMAC against the official module.
func TestSignMatchesLibrary(t *testing.T) {
	wh, err := standardwebhooks.NewWebhook(vecSecret)
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range []string{"", vecBody, "\x00\xff binary", strings.Repeat("x", 5000)} {
		id := "msg_" + strconv.Itoa(i)
		ts := time.Unix(vecTS+int64(i)*1000, 0)
		ours, err := Sign(vecSecret, id, ts, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := wh.Sign(id, ts, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if ours != theirs {
			t.Errorf("body %d: Sign = %q, library = %q", i, ours, theirs)
		}
	}
}

func FuzzVerify(f *testing.F) {
	f.Add(vecID, int64(0), []byte(vecBody), vecSig)
	f.Add("msg_1", int64(-300), []byte("{}"), "v1a,xx v1,")
	f.Add("", int64(301), []byte(nil), "v1,,, v1 ,")
	f.Add("a.b", int64(5), []byte("1.2"), "")
	wh, err := standardwebhooks.NewWebhook(vecSecret)
	if err != nil {
		f.Fatal(err)
	}
	v, err := NewVerifier(vecSecret, fixedClock(vecTS))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id string, offset int64, body []byte, junk string) {
		offset %= 1000 // seconds from the clock, both sides of the tolerance
		ts := time.Unix(vecTS+offset, 0)
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))

		sig, err := Sign(vecSecret, id, ts, body)
		if err != nil {
			t.Fatal(err)
		}

		// Arbitrary signature text: never panics, never accepted unless it
		// carries the real MAC (the seed corpus does), always coded.
		h.Set(HeaderSignature, junk)
		if err := v.Verify(h, body); err == nil && !strings.Contains(junk, sig[len("v1,"):]) {
			t.Fatalf("junk signature %q accepted", junk)
		} else if err != nil && recontact.ErrorCode(err) != recontact.EUnauthorized {
			t.Fatalf("code = %s, want unauthorized: %v", recontact.ErrorCode(err), err)
		}
		if lib, _ := wh.Sign(id, ts, body); lib != sig {
			t.Fatalf("Sign = %q, library = %q", sig, lib)
		}
		h.Set(HeaderSignature, junk+" "+sig)
		err = v.Verify(h, body)
		fresh := offset >= -300 && offset <= 300
		valid := id != "" && !strings.Contains(id, ".") && fresh
		if valid != (err == nil) {
			t.Fatalf("id %q offset %d: Verify = %v, want valid=%v", id, offset, err, valid)
		}
		if valid {
			// The library must agree on what we accepted.
			if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
				t.Fatalf("library rejects what we accepted: %v", err)
			}
			// Any change to the body breaks it.
			if err := v.Verify(h, append(body[:len(body):len(body)], 'x')); err == nil {
				t.Fatal("appended byte accepted")
			}
		}
	})
}
