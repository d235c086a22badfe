package handlers

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
)

// ticketJSON is GET /api/v1/tickets/{source}/{ticket_id}.
type ticketJSON struct {
	Source           recontact.Source `json:"source"`
	TicketID         string           `json:"ticket_id"`
	Customer         string           `json:"customer"`
	Partner          *string          `json:"partner"`
	Channel          string           `json:"channel"`
	Status           recontact.Status `json:"status"`
	CreatedAt        time.Time        `json:"created_at"`
	UpdatedAt        *time.Time       `json:"updated_at"`
	ResolvedAt       *time.Time       `json:"resolved_at"`
	Replies          int              `json:"replies"`
	Reopens          int              `json:"reopens"`
	BookingRef       *string          `json:"booking_ref"`
	Tags             []string         `json:"tags"`
	RepeatContact    bool             `json:"repeat_contact"`
	PreviousContacts []string         `json:"previous_contacts"`
	FCR              string           `json:"fcr"`
	FCRFinal         bool             `json:"fcr_final"`
	Stage            *string          `json:"stage"`
	FollowedByOrder  bool             `json:"followed_by_order"`
	Evaluated        bool             `json:"evaluated"`
	Writeback        string           `json:"writeback"`       // pending, done, failed or off (see writeback.go)
	TagsWritten      []string         `json:"tags_written"`    // the tags recontact last wrote to the ticket
	WritebackError   *string          `json:"writeback_error"` // the last failure, or a dry run's plan
}

func (h *Handler) ticket(c *gin.Context) {
	src := recontact.Source(c.Param("source"))
	if !src.Valid() {
		h.fail(c, recontact.Errorf(recontact.EInvalid, "source must be zendesk or freshdesk"))
		return
	}
	sc, err := h.Store.Contact(c.Request.Context(), src, c.Param("ticket_id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, h.ticketView(sc))
}

func (h *Handler) ticketView(sc *store.StoredContact) ticketJSON {
	t := ticketJSON{
		Source: sc.Source, TicketID: sc.TicketID, Customer: recontact.MaskEmail(sc.CustomerKey),
		Partner: nullable(sc.Partner), Channel: sc.Channel, Status: sc.Status, CreatedAt: sc.CreatedAt,
		UpdatedAt: timePtr(sc.UpdatedAt), ResolvedAt: timePtr(sc.ResolvedAt), Replies: sc.Replies, Reopens: sc.Reopens,
		BookingRef: nullable(sc.BookingRef), Tags: sc.Tags, RepeatContact: sc.Repeat, FCR: sc.FCR,
		Stage: nullable(sc.Stage), FollowedByOrder: sc.FollowedByOrder, Evaluated: sc.Evaluated,
		PreviousContacts: make([]string, 0, len(sc.Previous)),
		Writeback:        writebackState(sc.Writeback), TagsWritten: sc.TagsWritten, WritebackError: nullable(sc.WritebackError),
	}
	// Earlier tickets from the same helpdesk are plain ids; from the other
	// helpdesk they keep their "source:" prefix.
	for _, ref := range sc.Previous {
		t.PreviousContacts = append(t.PreviousContacts, strings.TrimPrefix(ref, string(sc.Source)+":"))
	}
	switch metrics.FCR(sc.FCR) {
	case metrics.FCRNo:
		t.FCRFinal = true
	case metrics.FCRYes:
		t.FCRFinal = !h.Now().Before(sc.ResolvedAt.Add(h.Store.Settings().FCRWindow))
	}
	return t
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// maxBuckets bounds group_by=day|week|month so one request cannot ask for
// thousands of cohort scans.
const maxBuckets = 1000

type metricsJSON struct {
	From    time.Time       `json:"from"`
	To      time.Time       `json:"to"`
	Partner *string         `json:"partner,omitempty"`
	GroupBy *string         `json:"group_by,omitempty"`
	Totals  metrics.Totals  `json:"totals"`
	Groups  []metrics.Group `json:"groups"`
}

// readRange reads from (inclusive) and to (exclusive); without them, the 30
// days up to defaultTo.
func readRange(c *gin.Context, defaultTo time.Time) (from, to time.Time, err error) {
	to = defaultTo
	if v := c.Query("to"); v != "" {
		if to, err = parseInstant(v); err != nil {
			return from, to, recontact.Errorf(recontact.EInvalid, "to: want RFC 3339 or YYYY-MM-DD, got "+quote(v))
		}
	}
	from = to.AddDate(0, 0, -30)
	if v := c.Query("from"); v != "" {
		if from, err = parseInstant(v); err != nil {
			return from, to, recontact.Errorf(recontact.EInvalid, "from: want RFC 3339 or YYYY-MM-DD, got "+quote(v))
		}
	}
	if !from.Before(to) {
		return from, to, recontact.Errorf(recontact.EInvalid, "from must be before to")
	}
	return from, to, nil
}

// periodQuery reads from, to, partner and group_by. Defaults: the 30 days
// up to now.
func (h *Handler) periodQuery(c *gin.Context) (store.PeriodQuery, error) {
	var q store.PeriodQuery
	var err error
	if q.From, q.To, err = readRange(c, h.Now().UTC()); err != nil {
		return q, err
	}
	q.Partner = c.Query("partner")
	q.GroupBy = c.Query("group_by")
	if !metrics.ValidGroupBy(q.GroupBy) {
		return q, recontact.Errorf(recontact.EInvalid, "group_by must be one of partner, channel, stage, day, week, month; got "+quote(q.GroupBy))
	}
	if n := len(metrics.Buckets(q.From, q.To, q.GroupBy)); n > maxBuckets {
		return q, recontact.Errorf(recontact.EInvalid, "too many "+q.GroupBy+" buckets; narrow the range or group by a longer period")
	}
	return q, nil
}

func (h *Handler) metrics(c *gin.Context) {
	q, err := h.periodQuery(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	format, err := metricsFormat(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	totals, groups, err := h.Store.Period(c.Request.Context(), q)
	if err != nil {
		h.fail(c, err)
		return
	}
	if format == "csv" {
		h.writeMetricsCSV(c, q, totals, groups)
		return
	}
	if groups == nil {
		groups = []metrics.Group{}
	}
	c.JSON(http.StatusOK, metricsJSON{From: q.From, To: q.To, Partner: nullable(q.Partner), GroupBy: nullable(q.GroupBy), Totals: totals, Groups: groups})
}

// parseInstant accepts RFC 3339 or a UTC date.
func parseInstant(v string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	return t.UTC(), err
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + s + `"`
}
