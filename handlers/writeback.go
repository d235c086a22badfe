package handlers

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/store"
)

// maxWritebackList bounds one GET /api/v1/writeback page.
const maxWritebackList = 1000

// writebackItemJSON is one ticket in GET /api/v1/writeback.
type writebackItemJSON struct {
	ID          *int64           `json:"id"` // the queued job; null when none is queued (done, closed ticket)
	Source      recontact.Source `json:"source"`
	TicketID    string           `json:"ticket_id"`
	State       string           `json:"state"` // pending, done, failed or dry-run
	Attempts    int              `json:"attempts"`
	LastError   *string          `json:"last_error"`
	Plan        *string          `json:"plan,omitempty"` // dry-run: the change that would be sent
	TagsWritten []string         `json:"tags_written"`
	UpdatedAt   *time.Time       `json:"updated_at"`
}

// writebackJobJSON is POST /api/v1/writeback/{id}/retry's answer.
type writebackJobJSON struct {
	ID        int64            `json:"id"`
	Source    recontact.Source `json:"source"`
	TicketID  string           `json:"ticket_id"`
	State     string           `json:"state"`
	Attempts  int              `json:"attempts"`
	LastError *string          `json:"last_error"`
	RunAt     time.Time        `json:"run_at"`
	UpdatedAt time.Time        `json:"updated_at"`
}

// writebackList is GET /api/v1/writeback?state=failed|pending|done[&limit=N].
func (h *Handler) writebackList(c *gin.Context) {
	state := c.DefaultQuery("state", store.WritebackFailed)
	switch state {
	case store.WritebackFailed, store.WritebackPending, store.WritebackDone:
	default:
		h.fail(c, recontact.Errorf(recontact.EInvalid, "state must be failed, pending or done; got "+quote(state)))
		return
	}
	limit := 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxWritebackList {
			h.fail(c, recontact.Errorf(recontact.EInvalid, "limit must be a number from 1 to "+strconv.Itoa(maxWritebackList)))
			return
		}
		limit = n
	}
	items, err := h.Store.WritebackItems(c.Request.Context(), state, limit)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]writebackItemJSON, len(items))
	for i, it := range items {
		out[i] = writebackItemJSON{
			Source: it.Source, TicketID: it.TicketID, State: it.State, Attempts: it.Attempts,
			LastError: nullable(it.LastError), Plan: nullable(it.Plan), TagsWritten: it.TagsWritten,
			UpdatedAt: timePtr(it.UpdatedAt),
		}
		if it.JobID != 0 {
			out[i].ID = &it.JobID
		}
	}
	c.JSON(http.StatusOK, gin.H{"state": state, "items": out})
}

// writebackRetry is POST /api/v1/writeback/{id}/retry: a dead-lettered job
// goes back to the queue with fresh attempts.
func (h *Handler) writebackRetry(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		h.fail(c, recontact.Errorf(recontact.EInvalid, "id must be a job id (a positive number); got "+quote(c.Param("id"))))
		return
	}
	j, err := h.Store.RetryWriteback(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	src, ticket := splitJobKey(j.Key)
	c.JSON(http.StatusOK, writebackJobJSON{
		ID: j.ID, Source: src, TicketID: ticket, State: j.State, Attempts: j.Attempts,
		LastError: nullable(j.LastError), RunAt: j.RunAt(), UpdatedAt: time.UnixMilli(j.UpdatedMS).UTC(),
	})
}

// splitJobKey splits a write-back job's key, "<source>:<ticket_id>".
func splitJobKey(key string) (recontact.Source, string) {
	src, ticket, _ := strings.Cut(key, ":")
	return recontact.Source(src), ticket
}

// writebackState is the ticket API's writeback: pending, done, failed or off.
// A dry run sent nothing, so the ticket's write-back is off; its plan shows
// in writeback_error.
func writebackState(s string) string {
	switch s {
	case store.WritebackPending, store.WritebackDone, store.WritebackFailed:
		return s
	}
	return store.WritebackOff
}
