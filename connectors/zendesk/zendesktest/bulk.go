package zendesktest

import (
	"net/http"
	"strings"
)

// KindOrganizations counts GET /api/v2/organizations/show_many?ids= calls.
const KindOrganizations Kind = "organizations"

// showOrganizations serves show_many: up to 100 ids; unknown ids are left
// out of the answer, as Zendesk does.
func (s *Server) showOrganizations(w http.ResponseWriter, r *http.Request, _ []byte) {
	ids := strings.Split(r.URL.Query().Get("ids"), ",")
	if len(ids) > 100 || len(ids) == 1 && ids[0] == "" {
		writeJSON(w, http.StatusBadRequest, apiError("InvalidParameter", "ids must be 1 to 100 organization ids"))
		return
	}
	out := []any{}
	for _, id := range ids {
		if o, ok := s.orgs[id]; ok {
			var ext any
			if o.ExternalID != "" {
				ext = o.ExternalID
			}
			out = append(out, map[string]any{"id": number(o.ID), "name": o.Name, "external_id": ext})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"organizations": out, "next_page": nil, "previous_page": nil, "count": len(out)})
}
