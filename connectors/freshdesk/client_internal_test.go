package freshdesk

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNewClientConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		base    string // "" with wantErr "": not configured
		wantErr string
	}{
		{"empty: not configured", Config{}, "", ""},
		{"account name", Config{Domain: "acme", APIKey: "k"}, "https://acme.freshdesk.com", ""},
		{"full host, any case", Config{Domain: " Acme.Freshdesk.com ", APIKey: "k"}, "https://acme.freshdesk.com", ""},
		{"hyphen", Config{Domain: "acme-travel", APIKey: "k"}, "https://acme-travel.freshdesk.com", ""},
		{"base URL override", Config{Domain: "acme", BaseURL: "http://127.0.0.1:8080/", APIKey: "k"}, "http://127.0.0.1:8080", ""},
		{"base URL with a path", Config{BaseURL: "https://proxy.example/fd", APIKey: "k"}, "https://proxy.example/fd", ""},
		{"custom CNAME refused", Config{Domain: "support.acme.com", APIKey: "k"}, "", "want the account name"},
		{"URL as domain refused", Config{Domain: "https://acme.freshdesk.com", APIKey: "k"}, "", "want the account name"},
		{"path injection", Config{Domain: "acme/evil", APIKey: "k"}, "", "want the account name"},
		{"trailing hyphen", Config{Domain: "acme-", APIKey: "k"}, "", "want the account name"},
		{"base URL scheme", Config{BaseURL: "ftp://x", APIKey: "k"}, "", "want http(s)://host"},
		{"base URL query", Config{BaseURL: "https://x?key=1", APIKey: "k"}, "", "want http(s)://host"},
		{"base URL relative", Config{BaseURL: "acme.freshdesk.com", APIKey: "k"}, "", "want http(s)://host"},
		{"domain without key", Config{Domain: "acme"}, "", "Domain set without APIKey"},
		{"blank key", Config{Domain: "acme", APIKey: "  "}, "", "Domain set without APIKey"},
		{"key without domain", Config{APIKey: "k"}, "", "APIKey set without Domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.base != tt.base || c.Configured() != (tt.base != "") {
				t.Errorf("base %q configured %v, want %q", c.base, c.Configured(), tt.base)
			}
			if c.Configured() && (c.timeout != DefaultTimeout || c.http.RetryMax != DefaultRetryMax) {
				t.Errorf("defaults: timeout %v retries %d", c.timeout, c.http.RetryMax)
			}
		})
	}
}

func TestNextTarget(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{`<https://a.freshdesk.com/api/v2/tickets?include=stats,requester&page=2>; rel="next"`, "https://a.freshdesk.com/api/v2/tickets?include=stats,requester&page=2", true},
		{`<https://x/p?page=1>; rel="prev", <https://x/p?page=3>; rel="next"`, "https://x/p?page=3", true},
		{`<https://x/p?page=3>;rel=next`, "https://x/p?page=3", true},
		{`<https://x/p?page=3>; title="a;b"; REL="last next"`, "https://x/p?page=3", true},
		{`</api/v2/tickets/1/conversations?page=2>; rel="next"`, "/api/v2/tickets/1/conversations?page=2", true},
		{`<https://x/p?page=1>; rel="prev"`, "", false},
		{`<https://x/p?page=3>; rel="nextpage"`, "", false},
		{`https://x/p?page=3; rel="next"`, "", false},
		{`<https://x/p?page=3; rel="next"`, "", false},
		{``, "", false},
	}
	for _, tt := range tests {
		got, ok := nextTarget(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("nextTarget(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMergeTagList(t *testing.T) {
	tests := []struct {
		cur, add, remove, want []string
	}{
		{nil, nil, nil, []string{}},
		{[]string{"vip"}, []string{"fcr"}, nil, []string{"vip", "fcr"}},
		{[]string{"vip", "fcr"}, []string{"not_fcr"}, []string{"fcr"}, []string{"vip", "not_fcr"}},
		{[]string{"vip"}, []string{"fcr"}, []string{"fcr"}, []string{"vip"}}, // remove wins
		{[]string{"VIP"}, []string{"vip"}, nil, []string{"VIP", "vip"}},      // exact match only
		{[]string{"a", "a"}, nil, nil, []string{"a"}},
	}
	for _, tt := range tests {
		if got := mergeTags(tt.cur, tt.add, tt.remove); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("mergeTags(%q, +%q, -%q) = %q, want %q", tt.cur, tt.add, tt.remove, got, tt.want)
		}
	}
	if !sameTags([]string{"a", "b"}, []string{"b", "a"}) || sameTags([]string{"a"}, []string{"a", "b"}) {
		t.Error("sameTags compares as sets")
	}
}

func TestRetryAfter(t *testing.T) {
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	for _, tt := range []struct {
		v      string
		min    time.Duration
		max    time.Duration
		wantOK bool
	}{
		{"30", 30 * time.Second, 30 * time.Second, true},
		{"0", 0, 0, true},
		{future, 80 * time.Second, 90 * time.Second, true},
		{"Mon, 01 Jan 2001 00:00:00 GMT", 0, 0, true},
		{"-5", 0, 0, false},
		{"soon", 0, 0, false},
		{"", 0, 0, false},
	} {
		h := http.Header{}
		if tt.v != "" {
			h.Set("Retry-After", tt.v)
		}
		d, ok := retryAfter(h)
		if ok != tt.wantOK || d < tt.min || d > tt.max {
			t.Errorf("Retry-After %q = %v, %v; want %v..%v, %v", tt.v, d, ok, tt.min, tt.max, tt.wantOK)
		}
	}
}
