package zendesk

import (
	"context"
	"strconv"
	"testing"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/connectors/zendesk/zendesktest"
)

func TestClientOrganizations(t *testing.T) {
	s := zendesktest.New(t)
	s.AddOrganization(zendesktest.Organization{ID: "1", Name: "Acme", ExternalID: "partner-a"})
	s.AddOrganization(zendesktest.Organization{ID: "2", Name: "Beach Co"})
	c := newClient(t, s, nil)
	ctx := context.Background()

	got, err := c.Organizations(ctx, []string{"1", "2", "3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["1"] != (Organization{ID: "1", Name: "Acme", ExternalID: "partner-a"}) || got["2"] != (Organization{ID: "2", Name: "Beach Co"}) {
		t.Errorf("got %+v, want organisations 1 and 2, and 3 (unknown) left out", got)
	}
	if n := s.Calls(zendesktest.KindOrganizations); n != 1 {
		t.Errorf("%d show_many calls, want 1", n)
	}

	tooMany := make([]string, MaxShowMany+1)
	for i := range tooMany {
		tooMany[i] = strconv.Itoa(i + 1)
	}
	for name, ids := range map[string][]string{"none": nil, "too many": tooMany, "not an id": {"1", "x"}} {
		_, err := c.Organizations(ctx, ids)
		wantCode(t, name, err, recontact.EInvalid)
	}
	if n := s.Calls(zendesktest.KindOrganizations); n != 1 {
		t.Errorf("%d show_many calls after invalid input, want still 1", n)
	}
}
