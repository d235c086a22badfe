package outbox_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/recontact/recontact/outbox"
	"github.com/recontact/recontact/store"
)

func TestDesiredTags(t *testing.T) {
	custom := outbox.TagNames{Repeat: "rc", FCR: "first_ok", NotFCR: "first_no", StagePrefix: "st-"}
	tests := []struct {
		name  string
		c     store.StoredContact
		names outbox.TagNames
		want  []string
	}{
		{"new ticket: nothing", store.StoredContact{FCR: "pending"}, outbox.TagNames{}, nil},
		{"pending FCR: neither fcr nor not_fcr", store.StoredContact{Repeat: true, FCR: "pending"}, outbox.TagNames{}, []string{"repeat_contact"}},
		{"fcr", store.StoredContact{FCR: "fcr"}, outbox.TagNames{}, []string{"fcr"}},
		{"not_fcr", store.StoredContact{FCR: "not_fcr"}, outbox.TagNames{}, []string{"not_fcr"}},
		{"pre-check-in", store.StoredContact{FCR: "pending", Stage: "pre-check-in"}, outbox.TagNames{}, []string{"stage_pre_check_in"}},
		{"in-destination", store.StoredContact{Stage: "in-destination"}, outbox.TagNames{}, []string{"stage_in_destination"}},
		{"post-check-out", store.StoredContact{Stage: "post-check-out"}, outbox.TagNames{}, []string{"stage_post_check_out"}},
		{"unknown stage: no tag", store.StoredContact{Stage: "on-the-moon"}, outbox.TagNames{}, nil},
		{"all three", store.StoredContact{Repeat: true, FCR: "not_fcr", Stage: "in-destination"}, outbox.TagNames{},
			[]string{"repeat_contact", "not_fcr", "stage_in_destination"}},
		{"configured names", store.StoredContact{Repeat: true, FCR: "fcr", Stage: "post-check-out"}, custom,
			[]string{"rc", "first_ok", "st-post_check_out"}},
		{"partly configured", store.StoredContact{Repeat: true, FCR: "not_fcr"}, outbox.TagNames{NotFCR: "nope"},
			[]string{"repeat_contact", "nope"}},
	}
	for _, tt := range tests {
		if got := outbox.DesiredTags(&tt.c, tt.names); !slices.Equal(got, tt.want) {
			t.Errorf("%s: DesiredTags = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := outbox.DesiredTags(nil, outbox.TagNames{}); got != nil {
		t.Errorf("DesiredTags(nil) = %q, want nil", got)
	}
}

func TestDiff(t *testing.T) {
	d := outbox.TagNames{}
	tests := []struct {
		name                string
		desired, written    []string
		wantAdd, wantRemove []string
	}{
		{"nothing either side", nil, nil, nil, nil},
		{"first write", []string{"repeat_contact", "fcr"}, nil, []string{"fcr", "repeat_contact"}, nil},
		{"echo of our own write: nothing to send", []string{"repeat_contact", "fcr"}, []string{"fcr", "repeat_contact"}, nil, nil},
		{"fcr becomes not_fcr", []string{"not_fcr"}, []string{"fcr"}, []string{"not_fcr"}, []string{"fcr"}},
		{"stage moves", []string{"stage_in_destination"}, []string{"stage_pre_check_in"}, []string{"stage_in_destination"}, []string{"stage_pre_check_in"}},
		{"everything goes", nil, []string{"repeat_contact", "not_fcr", "stage_post_check_out"}, nil,
			[]string{"not_fcr", "repeat_contact", "stage_post_check_out"}},
		{"a foreign tag in written is never removed", nil, []string{"vip", "fcr"}, nil, []string{"fcr"}},
		{"a prefix lookalike is not ours", nil, []string{"stage_vip"}, nil, nil},
		{"duplicates collapse", []string{"fcr", "fcr"}, []string{"not_fcr", "not_fcr"}, []string{"fcr"}, []string{"not_fcr"}},
	}
	for _, tt := range tests {
		add, remove := outbox.Diff(tt.desired, tt.written, d)
		if !slices.Equal(add, tt.wantAdd) || !slices.Equal(remove, tt.wantRemove) {
			t.Errorf("%s: Diff(%q, %q) = +%q -%q, want +%q -%q", tt.name, tt.desired, tt.written, add, remove, tt.wantAdd, tt.wantRemove)
		}
	}
	// With renamed tags, only the new names are managed.
	add, remove := outbox.Diff([]string{"rc"}, []string{"repeat_contact"}, outbox.TagNames{Repeat: "rc"})
	if !slices.Equal(add, []string{"rc"}) || len(remove) != 0 {
		t.Errorf("renamed: got +%q -%q, want +[rc] -[]", add, remove)
	}
}

func TestTagNames(t *testing.T) {
	n := outbox.TagNames{}
	want := []string{"repeat_contact", "fcr", "not_fcr", "stage_pre_check_in", "stage_in_destination", "stage_post_check_out"}
	if got := n.All(); !slices.Equal(got, want) {
		t.Errorf("All = %q, want %q", got, want)
	}
	for _, tag := range want {
		if !n.Managed(tag) {
			t.Errorf("Managed(%q) = false, want true", tag)
		}
	}
	for _, tag := range []string{"vip", "stage_", "stage_vip", "FCR", "repeat"} {
		if n.Managed(tag) {
			t.Errorf("Managed(%q) = true, want false", tag)
		}
	}
	if err := n.Validate(); err != nil {
		t.Errorf("defaults: Validate = %v", err)
	}
	bad := []outbox.TagNames{
		{Repeat: "repeat contact"},
		{FCR: "a,b"},
		{FCR: "same", NotFCR: "same"},
		{Repeat: "stage_in_destination"},
	}
	for _, b := range bad {
		if err := b.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", b)
		} else if !strings.Contains(err.Error(), "tag") {
			t.Errorf("Validate(%+v) = %v, want it to name the tag", b, err)
		}
	}
}
