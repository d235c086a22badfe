package zendesk

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/recontact/recontact"
)

// MaxShowMany is the most ids one show_many call takes.
const MaxShowMany = 100

// Organizations reads up to MaxShowMany organisations in one call: GET
// /api/v2/organizations/show_many?ids=… (Zendesk's "Show Many
// Organizations"; not in docs/zendesk.md). Ids Zendesk does not know are
// absent from the map rather than an error.
func (c *Client) Organizations(ctx context.Context, ids []string) (map[string]Organization, error) {
	if len(ids) == 0 || len(ids) > MaxShowMany {
		return nil, recontact.Errorf(recontact.EInvalid, fmt.Sprintf("show_many takes 1 to %d organizations, got %d", MaxShowMany, len(ids)))
	}
	for _, id := range ids {
		if err := checkID("organization", id); err != nil {
			return nil, err
		}
	}
	var out struct {
		Organizations []struct {
			ID         text `json:"id"`
			Name       text `json:"name"`
			ExternalID text `json:"external_id"`
		} `json:"organizations"`
	}
	path := "/api/v2/organizations/show_many?ids=" + strings.Join(ids, ",")
	if err := c.do(ctx, http.MethodGet, path, fmt.Sprintf("%d organizations", len(ids)), nil, &out); err != nil {
		return nil, err
	}
	orgs := make(map[string]Organization, len(out.Organizations))
	for _, o := range out.Organizations {
		orgs[string(o.ID)] = Organization{ID: string(o.ID), Name: string(o.Name), ExternalID: string(o.ExternalID)}
	}
	return orgs, nil
}
