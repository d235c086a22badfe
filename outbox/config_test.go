package outbox_test

import (
	"strings"
	"testing"

	"github.com/recontact/recontact/connectors/zendesk"
	"github.com/recontact/recontact/outbox"
	"github.com/recontact/recontact/store/storetest"
)

func TestNewChecksConfig(t *testing.T) {
	s := storetest.SQLite(t, writeback)
	zd, err := zendesk.NewClient(zendesk.Config{BaseURL: "http://127.0.0.1:1", Email: "a@example.com", APIToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	unconfigured, _ := zendesk.NewClient(zendesk.Config{})
	tests := []struct {
		name string
		cfg  outbox.Config
		want string // "" for no error
	}{
		{"defaults", outbox.Config{Store: s, Zendesk: zd}, ""},
		{"dry-run", outbox.Config{Store: s, Zendesk: zd, Mode: "dry-run"}, ""},
		{"no store", outbox.Config{Zendesk: zd}, "Store"},
		{"no client", outbox.Config{Store: s}, "no helpdesk client"},
		{"unconfigured client", outbox.Config{Store: s, Zendesk: unconfigured}, "no helpdesk client"},
		{"off", outbox.Config{Store: s, Zendesk: zd, Mode: "off"}, "off"},
		{"unknown mode", outbox.Config{Store: s, Zendesk: zd, Mode: "loud"}, "mode"},
		{"share above 1", outbox.Config{Store: s, Zendesk: zd, Share: 1.5}, "share"},
		{"tag with a space", outbox.Config{Store: s, Zendesk: zd, Tags: outbox.TagNames{FCR: "first contact"}}, "space"},
	}
	for _, tt := range tests {
		_, err := outbox.New(tt.cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: New = %v, want no error", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: New = %v, want an error naming %q", tt.name, err, tt.want)
		}
	}
}
