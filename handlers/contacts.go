package handlers

import (
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
)

// The contacts behind a figure: the dashboard's drill-down pages and
// GET /api/v1/contacts read the same store listing with the same filters.

const pageSize = 50

// contactFilter reads the selection plus set, channel, stage and tag.
func (h *Handler) contactFilter(c *gin.Context, defaultTo time.Time) (selection, store.ContactFilter, error) {
	sel, err := h.readSelection(c, defaultTo)
	if err != nil {
		return sel, store.ContactFilter{}, err
	}
	f := store.ContactFilter{From: sel.From, To: sel.To, Partner: sel.partner(),
		Set: c.Query("set"), Channel: c.Query("channel"), Tag: c.Query("tag")}
	if !store.ValidSet(f.Set) {
		return sel, f, recontact.Errorf(recontact.EInvalid, "set must be one of resolved, fcr, not_fcr, repeat, repeat_customers, followed; got "+quote(f.Set))
	}
	if len(f.Channel) > 100 || len(f.Tag) > 100 {
		return sel, f, recontact.Errorf(recontact.EInvalid, "channel and tag are at most 100 characters")
	}
	switch st := c.Query("stage"); st {
	case "":
	case "none":
		empty := ""
		f.Stage = &empty
	case string(metrics.StagePreCheckIn), string(metrics.StageInDestination), string(metrics.StagePostCheckOut):
		f.Stage = &st
	default:
		return sel, f, recontact.Errorf(recontact.EInvalid, "stage must be pre-check-in, in-destination, post-check-out or none; got "+quote(st))
	}
	return sel, f, nil
}

// filterValues is the query string of a filter, for pager and export links.
func filterValues(sel selection, f store.ContactFilter) url.Values {
	v := sel.values()
	if f.Set != "" {
		v.Set("set", f.Set)
	}
	if f.Channel != "" {
		v.Set("channel", f.Channel)
	}
	if f.Tag != "" {
		v.Set("tag", f.Tag)
	}
	if f.Stage != nil {
		st := *f.Stage
		if st == "" {
			st = "none"
		}
		v.Set("stage", st)
	}
	return v
}

var setTitles = map[string]string{
	store.SetAll: "All contacts", store.SetResolved: "Resolved contacts", store.SetFCR: "First-contact resolved",
	store.SetNotFCR: "Resolved, not first contact", store.SetRepeat: "Repeat contacts",
	store.SetRepeatCustomers: "Contacts of customers who came back", store.SetFollowed: "Contacts followed by a booking",
}

type contactRow struct {
	TicketID, TicketURL, Source string
	Created, Customer, Partner  string
	Channel, Stage, Status      string
	Repeat, Followed            bool
	FCR                         string
	Tags                        string
}

type contactsPage struct {
	chrome
	Title, Subtitle  string
	Filters          []string
	Rows             []contactRow
	Total, Page      int
	Pages            int
	First, Last      int
	PrevHref         string
	NextHref         string
	CSVHref, BackURL string
}

func (h *Handler) contactsPage(c *gin.Context) {
	sel, f, err := h.contactFilter(c, h.pageDefaultTo())
	if err != nil {
		h.fail(c, err)
		return
	}
	page := 1
	if v := c.Query("page"); v != "" {
		if page, err = strconv.Atoi(v); err != nil || page < 1 {
			h.fail(c, recontact.Errorf(recontact.EInvalid, "page must be a positive number, got "+quote(v)))
			return
		}
	}
	ctx := c.Request.Context()
	total, err := h.Store.CountContacts(ctx, f)
	if err != nil {
		h.fail(c, err)
		return
	}
	f.Limit, f.Offset = pageSize, (page-1)*pageSize
	p := contactsPage{chrome: chromeOf(c), Title: setTitles[f.Set], Subtitle: periodLabel(sel.From, sel.To),
		Total: total, Page: page, Pages: max(1, (total+pageSize-1)/pageSize), First: f.Offset + 1}
	err = h.Store.EachContact(ctx, f, func(lc *store.ListedContact) error {
		p.Rows = append(p.Rows, h.contactRow(lc))
		return nil
	})
	if err != nil {
		h.fail(c, err)
		return
	}
	p.Last = f.Offset + len(p.Rows)
	switch {
	case sel.NoPartner:
		p.Filters = append(p.Filters, "no partner")
	case sel.Partner != "":
		p.Filters = append(p.Filters, "partner "+sel.Partner)
	}
	if f.Channel != "" {
		p.Filters = append(p.Filters, "channel "+f.Channel)
	}
	if f.Stage != nil {
		p.Filters = append(p.Filters, "stage "+cmpOr(*f.Stage, "none"))
	}
	if f.Tag != "" {
		p.Filters = append(p.Filters, "tag "+f.Tag)
	}
	v := filterValues(sel, f)
	if page > 1 {
		v.Set("page", strconv.Itoa(page-1))
		p.PrevHref = "/contacts?" + v.Encode()
	}
	if p.Last < total {
		v.Set("page", strconv.Itoa(page+1))
		p.NextHref = "/contacts?" + v.Encode()
	}
	v.Del("page")
	v.Set("format", "csv")
	p.CSVHref = "/api/v1/contacts?" + v.Encode()
	p.BackURL = "/?" + sel.values().Encode()
	h.render(c, http.StatusOK, "contacts.html", p)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (h *Handler) contactRow(lc *store.ListedContact) contactRow {
	return contactRow{
		TicketID: lc.TicketID, TicketURL: h.ticketURL(lc.Source, lc.TicketID), Source: string(lc.Source),
		Created: lc.CreatedAt.Format("2006-01-02 15:04"), Customer: recontact.MaskEmail(lc.CustomerKey),
		Partner: lc.Partner, Channel: lc.Channel, Stage: lc.Stage, Status: string(lc.Status),
		Repeat: lc.Repeat, Followed: lc.Followed, FCR: lc.FCR, Tags: strings.Join(lc.Tags, " "),
	}
}

// ticketURL opens the ticket in its helpdesk's agent interface; "" when that
// helpdesk's domain is not configured.
func (h *Handler) ticketURL(src recontact.Source, id string) string {
	switch {
	case src == recontact.SourceZendesk && h.ZendeskSubdomain != "":
		return "https://" + url.PathEscape(h.ZendeskSubdomain) + ".zendesk.com/agent/tickets/" + url.PathEscape(id)
	case src == recontact.SourceFreshdesk && h.FreshdeskDomain != "":
		return "https://" + url.PathEscape(h.FreshdeskDomain) + ".freshdesk.com/a/tickets/" + url.PathEscape(id)
	}
	return ""
}

// contactJSON is one element of GET /api/v1/contacts?format=json.
type contactJSON struct {
	Source          recontact.Source `json:"source"`
	TicketID        string           `json:"ticket_id"`
	Customer        string           `json:"customer"`
	Partner         *string          `json:"partner"`
	Channel         string           `json:"channel"`
	Status          recontact.Status `json:"status"`
	CreatedAt       time.Time        `json:"created_at"`
	ResolvedAt      *time.Time       `json:"resolved_at"`
	Stage           *string          `json:"stage"`
	RepeatContact   bool             `json:"repeat_contact"`
	FCR             string           `json:"fcr"`
	FollowedByOrder bool             `json:"followed_by_order"`
	Tags            []string         `json:"tags"`
}

var csvHeader = []string{"source", "ticket_id", "customer", "partner", "channel", "status", "created_at",
	"resolved_at", "stage", "repeat_contact", "fcr", "followed_by_order", "tags"}

// flushEvery rows the export hands what it has to the client, so memory stays
// flat and the download starts at once.
const flushEvery = 256

// exportContacts streams the listing as CSV or a JSON array, row by row.
func (h *Handler) exportContacts(c *gin.Context) {
	_, f, err := h.contactFilter(c, h.Now().UTC())
	if err != nil {
		h.fail(c, err)
		return
	}
	format := c.DefaultQuery("format", "json")
	if format != "csv" && format != "json" {
		h.fail(c, recontact.Errorf(recontact.EInvalid, "format must be csv or json, got "+quote(format)))
		return
	}
	started := false
	start := func() {
		started = true
		c.Header("Cache-Control", "no-store")
		c.Header("X-Content-Type-Options", "nosniff")
		if format == "csv" {
			c.Header("Content-Type", "text/csv; charset=utf-8")
			c.Header("Content-Disposition", `attachment; filename="contacts-`+formatInstant(f.From)+`-`+formatInstant(f.To)+`.csv"`)
		} else {
			c.Header("Content-Type", "application/json; charset=utf-8")
		}
		c.Status(http.StatusOK)
	}
	cw := csv.NewWriter(c.Writer)
	n := 0
	// The header goes out with the first row, so a store that fails before
	// any row still gets a proper error status.
	err = h.Store.EachContact(c.Request.Context(), f, func(lc *store.ListedContact) error {
		if !started {
			start()
			if err := writeStart(c, cw, format); err != nil {
				return err
			}
		}
		if err := writeContact(c, cw, format, lc, n == 0); err != nil {
			return err
		}
		n++
		if n%flushEvery == 0 {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			c.Writer.Flush()
		}
		return nil
	})
	if err != nil && !started {
		h.fail(c, err)
		return
	}
	if err != nil {
		// The 200 is gone; cut the connection so the client sees an incomplete
		// download instead of a short file that looks whole.
		h.log.ErrorContext(c.Request.Context(), "contacts export failed mid-stream", slog.Int("rows", n), slog.Any("err", err))
		abortStream(c)
		return
	}
	if !started {
		start()
		if err := writeStart(c, cw, format); err != nil {
			return
		}
	}
	if format == "json" {
		_, _ = c.Writer.WriteString("]\n")
	}
	cw.Flush()
}

func writeStart(c *gin.Context, cw *csv.Writer, format string) error {
	if format == "csv" {
		return cw.Write(csvHeader)
	}
	_, err := c.Writer.WriteString("[")
	return err
}

func writeContact(c *gin.Context, cw *csv.Writer, format string, lc *store.ListedContact, first bool) error {
	if format == "json" {
		b, err := json.Marshal(contactJSON{
			Source: lc.Source, TicketID: lc.TicketID, Customer: recontact.MaskEmail(lc.CustomerKey),
			Partner: nullable(lc.Partner), Channel: lc.Channel, Status: lc.Status, CreatedAt: lc.CreatedAt,
			ResolvedAt: timePtr(lc.ResolvedAt), Stage: nullable(lc.Stage), RepeatContact: lc.Repeat,
			FCR: lc.FCR, FollowedByOrder: lc.Followed, Tags: lc.Tags,
		})
		if err != nil {
			return err
		}
		sep := ",\n"
		if first {
			sep = "\n"
		}
		_, err = c.Writer.WriteString(sep + string(b))
		return err
	}
	resolved := ""
	if !lc.ResolvedAt.IsZero() {
		resolved = lc.ResolvedAt.Format(time.RFC3339)
	}
	return cw.Write([]string{string(lc.Source), cell(lc.TicketID), cell(recontact.MaskEmail(lc.CustomerKey)),
		cell(lc.Partner), cell(lc.Channel), string(lc.Status), lc.CreatedAt.Format(time.RFC3339), resolved,
		lc.Stage, strconv.FormatBool(lc.Repeat), lc.FCR, strconv.FormatBool(lc.Followed), cell(strings.Join(lc.Tags, " "))})
}

// cell defuses spreadsheet formulas: partner names and tags come from the
// helpdesks, and "=HYPERLINK(…)" must open as text, not run.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// abortStream closes an HTTP/1.1 connection before the final chunk. HTTP/2
// cannot be hijacked; there a JSON export at least stays unclosed.
func abortStream(c *gin.Context) {
	if conn, _, err := http.NewResponseController(c.Writer).Hijack(); err == nil {
		conn.Close()
	}
}
