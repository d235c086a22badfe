package handlers

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/recontact/recontact"
	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
)

// The dashboard is server-rendered: html/template pages and inline SVG
// charts computed here, with the CSS embedded too, so the page makes no
// request anywhere but this server (a closed network is fine).

//go:embed web
var webFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"pct": func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + " %" },
}).ParseFS(webFS, "web/*.html"))

// csp forbids every origin but this one, inline scripts included.
const csp = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (h *Handler) dashboardRoutes(r *gin.Engine, api *gin.RouterGroup) {
	r.GET("/assets/dashboard.css", h.css)
	r.GET("/signin", h.signinForm)
	r.POST("/signin", h.signin)
	g := r.Group("", h.requirePage)
	g.GET("/", h.dashboard)
	g.GET("/contacts", h.contactsPage)
	g.POST("/signout", h.signout)
	api.GET("/contacts", h.exportContacts)
}

func (h *Handler) css(c *gin.Context) {
	b, err := webFS.ReadFile("web/dashboard.css")
	if err != nil {
		h.fail(c, recontact.Wrap(recontact.EInternal, "stylesheet missing", err))
		return
	}
	c.Header("Cache-Control", "public, max-age=3600")
	c.Data(http.StatusOK, "text/css; charset=utf-8", b)
}

// render executes a page into a buffer first, so a template error is a clean
// 500 rather than half a page.
func (h *Handler) render(c *gin.Context, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		h.fail(c, recontact.Wrap(recontact.EInternal, "render failed", err))
		return
	}
	c.Header("Content-Security-Policy", csp)
	c.Header("Cache-Control", "no-store")
	// Drill-down URLs name partners; the helpdesk need not see them.
	c.Header("Referrer-Policy", "same-origin")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// chrome is what every signed-in page's header needs.
type chrome struct {
	CSRF string
}

func chromeOf(c *gin.Context) chrome {
	if v, ok := c.Get(ctxSession); ok {
		return chrome{CSRF: v.(session).csrf}
	}
	return chrome{}
}

// selection is the period and partner a page shows; links carry it along.
type selection struct {
	From, To  time.Time
	Partner   string
	NoPartner bool
}

func (s selection) partner() *string {
	switch {
	case s.NoPartner:
		empty := ""
		return &empty
	case s.Partner != "":
		return &s.Partner
	}
	return nil
}

// values encodes the selection; dates stay dates when they are whole days.
func (s selection) values() url.Values {
	v := url.Values{}
	v.Set("from", formatInstant(s.From))
	v.Set("to", formatInstant(s.To))
	if s.NoPartner {
		v.Set("no_partner", "1")
	} else if s.Partner != "" {
		v.Set("partner", s.Partner)
	}
	return v
}

func formatInstant(t time.Time) string {
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.UTC().Format(time.DateOnly)
	}
	return t.UTC().Format(time.RFC3339)
}

// readSelection parses from, to, partner and no_partner. Without from and
// to a page shows the last 30 days including today.
func (h *Handler) readSelection(c *gin.Context, defaultTo time.Time) (selection, error) {
	s := selection{Partner: c.Query("partner"), NoPartner: c.Query("no_partner") == "1"}
	var err error
	if s.From, s.To, err = readRange(c, defaultTo); err != nil {
		return s, err
	}
	if s.NoPartner && s.Partner != "" {
		return s, recontact.Errorf(recontact.EInvalid, "partner and no_partner exclude each other")
	}
	if len(s.Partner) > 200 {
		return s, recontact.Errorf(recontact.EInvalid, "partner longer than 200 characters")
	}
	return s, nil
}

func (h *Handler) pageDefaultTo() time.Time {
	return metrics.BucketStart(h.Now(), metrics.GroupDay).AddDate(0, 0, 1)
}

// headline is one of the five rates with its change since the period before.
type headline struct {
	Key, Label string
	Value      string // formatted, "–" when undefined
	Raw        string // data-value: the API's number, "" when null
	Band       string
	Detail     string
	Delta      string
	Trend      string // better, worse, same or "" (no comparison)
	Href       string
}

type dashboardPage struct {
	chrome
	Sel          selection
	FromValue    string // form values
	ToValue      string
	PeriodLabel  string
	PrevLabel    string
	Partners     []string // the partner picker
	Empty        bool
	Headlines    []headline
	PartnerBars  barChart
	NoBookings   []noBooking // partners with contacts but no bookings: no ratio to draw
	Trend        lineChart
	Stages       barChart
	Drivers      []driverList
	RepeatCount  int
	RepeatsHref  string
	Queue        store.QueueStats
	QueueOldest  string
	FailedJobs   []store.QueuedJob
	RatioLow     float64
	RatioHigh    float64
	FailedMarker bool
}

type noBooking struct {
	Label, Href string
	Contacts    int
}

func (h *Handler) dashboard(c *gin.Context) {
	sel, err := h.readSelection(c, h.pageDefaultTo())
	if err != nil {
		h.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	st := h.Store.Settings()
	p := dashboardPage{chrome: chromeOf(c), Sel: sel, RatioLow: st.RatioLow, RatioHigh: st.RatioHigh,
		FromValue: sel.From.UTC().Format(time.DateOnly), ToValue: sel.To.UTC().Format(time.DateOnly)}
	length := sel.To.Sub(sel.From)
	prevFrom := sel.From.Add(-length)
	p.PeriodLabel = periodLabel(sel.From, sel.To)
	p.PrevLabel = periodLabel(prevFrom, sel.From)

	pq := store.PeriodQuery{From: sel.From, To: sel.To, Partner: sel.Partner}
	// Period's partner filter cannot select "no partner"; that view reads the
	// null group of the partner breakdown instead.
	if sel.NoPartner {
		pq.Partner = ""
	}
	cur, _, err := h.Store.Period(ctx, pq)
	if err != nil {
		h.fail(c, err)
		return
	}
	prev, _, err := h.Store.Period(ctx, store.PeriodQuery{From: prevFrom, To: sel.From, Partner: pq.Partner})
	if err != nil {
		h.fail(c, err)
		return
	}
	_, byPartner, err := h.Store.Period(ctx, store.PeriodQuery{From: sel.From, To: sel.To, GroupBy: metrics.GroupPartner})
	if err != nil {
		h.fail(c, err)
		return
	}
	if sel.NoPartner {
		_, prevByPartner, err := h.Store.Period(ctx, store.PeriodQuery{From: prevFrom, To: sel.From, GroupBy: metrics.GroupPartner})
		if err != nil {
			h.fail(c, err)
			return
		}
		cur, prev = nullGroup(byPartner), nullGroup(prevByPartner)
	}
	for _, g := range byPartner {
		if g.Key != nil {
			p.Partners = append(p.Partners, *g.Key)
		}
	}
	if sel.Partner != "" && !slices.Contains(p.Partners, sel.Partner) {
		p.Partners = append(p.Partners, sel.Partner)
	}
	p.Empty = cur.Contacts == 0 && cur.Bookings == 0
	p.Headlines = h.headlines(sel, cur, prev)

	// Queue state is worth seeing even for an empty period.
	kinds := []string{recontact.JobWriteback}
	if p.Queue, err = h.Store.Queue(ctx, kinds); err != nil {
		h.fail(c, err)
		return
	}
	p.QueueOldest = humanAge(p.Queue.OldestPending)
	if p.FailedJobs, err = h.Store.Jobs(ctx, kinds, store.JobFailed, 5); err != nil {
		h.fail(c, err)
		return
	}
	if p.Empty {
		h.render(c, http.StatusOK, "dashboard.html", p)
		return
	}

	p.PartnerBars, p.NoBookings = partnerBars(sel, byPartner, st)
	if p.Trend, err = h.trend(c, sel, pq); err != nil {
		h.fail(c, err)
		return
	}
	if p.Stages, err = h.stageBars(c, sel, pq); err != nil {
		h.fail(c, err)
		return
	}
	d, err := h.Store.Drivers(ctx, sel.From, sel.To, sel.partner())
	if err != nil {
		h.fail(c, err)
		return
	}
	p.RepeatCount = d.Repeats
	p.RepeatsHref = drill(sel, store.SetRepeat, nil)
	p.Drivers = driverLists(sel, d)
	h.render(c, http.StatusOK, "dashboard.html", p)
}

func nullGroup(groups []metrics.Group) metrics.Totals {
	for _, g := range groups {
		if g.Key == nil {
			return g.Totals
		}
	}
	return metrics.Totals{}
}

func periodLabel(from, to time.Time) string {
	last := to.Add(-time.Nanosecond)
	if from.Equal(from.Truncate(24*time.Hour)) && to.Equal(to.Truncate(24*time.Hour)) {
		return from.UTC().Format("2 Jan 2006") + " – " + last.UTC().Format("2 Jan 2006")
	}
	return from.UTC().Format("2 Jan 2006 15:04") + " – " + to.UTC().Format("2 Jan 2006 15:04") + " UTC"
}

func humanAge(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days"
}

// drill links to the contacts behind a figure.
func drill(sel selection, set string, extra url.Values) string {
	v := sel.values()
	if set != "" {
		v.Set("set", set)
	}
	for k, vs := range extra {
		v[k] = vs
	}
	return "/contacts?" + v.Encode()
}

// rateSpec says how to show one of the five rates.
type rateSpec struct {
	key, label string
	get        func(metrics.Totals) *float64
	percent    bool
	higherIsOK bool // the direction in which a change is an improvement
	set        string
	detail     func(metrics.Totals) string
}

var rateSpecs = []rateSpec{
	{"contact_ratio", "Contact ratio", func(t metrics.Totals) *float64 { return t.ContactRatio }, true, false, store.SetAll,
		func(t metrics.Totals) string { return fmt.Sprintf("%d contacts / %d bookings", t.Contacts, t.Bookings) }},
	{"fcr_rate", "FCR rate", func(t metrics.Totals) *float64 { return t.FCRRate }, true, true, store.SetResolved,
		func(t metrics.Totals) string {
			return fmt.Sprintf("%d first-contact / %d resolved", t.FirstContactResolved, t.Resolved)
		}},
	{"repeat_contact_rate", "Repeat contact rate", func(t metrics.Totals) *float64 { return t.RepeatContactRate }, true, false, store.SetRepeatCustomers,
		func(t metrics.Totals) string {
			return fmt.Sprintf("%d of %d customers came back", t.RepeatCustomers, t.Customers)
		}},
	{"contacts_per_customer", "Contacts per customer", func(t metrics.Totals) *float64 { return t.ContactsPerCustomer }, false, false, store.SetAll,
		func(t metrics.Totals) string {
			return fmt.Sprintf("%d contacts / %d customers", t.Contacts, t.Customers)
		}},
	{"contact_to_order_rate", "Contact-to-order rate", func(t metrics.Totals) *float64 { return t.ContactToOrderRate }, true, true, store.SetFollowed,
		func(t metrics.Totals) string {
			return fmt.Sprintf("%d of %d contacts led to a booking", t.ContactsFollowedByOrder, t.Contacts)
		}},
}

func (h *Handler) headlines(sel selection, cur, prev metrics.Totals) []headline {
	out := make([]headline, 0, len(rateSpecs))
	for _, r := range rateSpecs {
		hl := headline{Key: r.key, Label: r.label, Value: "–", Detail: r.detail(cur), Href: drill(sel, r.set, nil)}
		v, pv := r.get(cur), r.get(prev)
		if v != nil {
			hl.Raw = strconv.FormatFloat(*v, 'f', -1, 64)
			hl.Value = formatRate(*v, r.percent)
		}
		if r.key == "contact_ratio" && cur.ContactRatioBand != nil {
			hl.Band = *cur.ContactRatioBand
		}
		switch {
		case v == nil:
		case pv == nil:
			hl.Delta = "no figure for the previous period"
		default:
			d := *v - *pv
			unit := ""
			if r.percent {
				d, unit = d*100, " pp"
			}
			d = math.Round(d*100) / 100
			switch {
			case d == 0:
				hl.Delta, hl.Trend = "no change", "same"
			case (d > 0) == r.higherIsOK:
				hl.Trend = "better"
			default:
				hl.Trend = "worse"
			}
			if d != 0 {
				hl.Delta = strconv.FormatFloat(d, 'f', 2, 64) + unit + " vs previous"
				if d > 0 {
					hl.Delta = "+" + hl.Delta
				}
			}
		}
		out = append(out, hl)
	}
	return out
}

func formatRate(v float64, percent bool) string {
	if percent {
		return strconv.FormatFloat(v*100, 'f', 1, 64) + " %"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// barChart is a horizontal bar chart laid out for an SVG viewBox of
// chartWidth × Height; every bar is a link.
type barChart struct {
	Bars   []bar
	Height int
	Marks  []mark // threshold lines
	Note   string // shown instead of the chart when there is nothing to draw
	LabelW int
	LabelX int
	AxisY  int // bottom of the bars, where threshold labels go
}

type bar struct {
	Key                              string // the full name (Label may be shortened)
	Label, Value, Href, Class, Title string
	Y, W, TextY, ValueX              float64
}

type mark struct {
	X     float64
	Label string
}

const (
	chartWidth = 640
	barLabelW  = 170
	barValueW  = 110
	barRow     = 30
)

func barArea() float64 { return chartWidth - barLabelW - barValueW }

func layoutBars(bars []bar, vals []float64, max float64) barChart {
	if max <= 0 {
		max = 1
	}
	for i := range bars {
		bars[i].Y = float64(i*barRow + 6)
		bars[i].W = math.Max(2, vals[i]/max*barArea())
		bars[i].TextY = bars[i].Y + 16
		bars[i].ValueX = barLabelW + bars[i].W + 6
	}
	return barChart{Bars: bars, Height: len(bars)*barRow + 30, LabelW: barLabelW, LabelX: barLabelW - 8, AxisY: len(bars)*barRow + 8}
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// partnerBars draws each partner's contact ratio, worst first, coloured by
// band. Partners with contacts but no bookings have no ratio and are listed.
func partnerBars(sel selection, groups []metrics.Group, st metrics.Settings) (barChart, []noBooking) {
	type row struct {
		g     metrics.Group
		label string
		href  string
	}
	var rows []row
	var missing []noBooking
	for _, g := range groups {
		ps := sel
		ps.Partner, ps.NoPartner = "", g.Key == nil
		label := "(no partner)"
		if g.Key != nil {
			ps.Partner, label = *g.Key, *g.Key
		}
		if (sel.Partner != "" && ps.Partner != sel.Partner) || (sel.NoPartner && !ps.NoPartner) {
			continue
		}
		r := row{g: g, label: label, href: drill(ps, store.SetAll, nil)}
		if g.Totals.ContactRatio == nil {
			if g.Totals.Contacts > 0 {
				missing = append(missing, noBooking{Label: label, Href: r.href, Contacts: g.Totals.Contacts})
			}
			continue
		}
		rows = append(rows, r)
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		if x, y := *a.g.Totals.ContactRatio, *b.g.Totals.ContactRatio; x != y {
			if x > y {
				return -1
			}
			return 1
		}
		return strings.Compare(a.label, b.label)
	})
	if len(rows) == 0 {
		return barChart{Note: "No partner had bookings in this period, so there is no contact ratio to compare."}, missing
	}
	max := st.RatioHigh * 1.25
	bars := make([]bar, len(rows))
	vals := make([]float64, len(rows))
	for i, r := range rows {
		t := r.g.Totals
		vals[i] = *t.ContactRatio
		max = math.Max(max, vals[i])
		bars[i] = bar{Key: r.label, Label: shorten(r.label, 20), Value: formatRate(*t.ContactRatio, true), Href: r.href,
			Class: "band-" + *t.ContactRatioBand,
			Title: fmt.Sprintf("%s: %d contacts / %d bookings (%s)", r.label, t.Contacts, t.Bookings, *t.ContactRatioBand)}
	}
	ch := layoutBars(bars, vals, max)
	for _, m := range []struct {
		v     float64
		label string
	}{{st.RatioLow, "low"}, {st.RatioHigh, "high"}} {
		ch.Marks = append(ch.Marks, mark{X: barLabelW + m.v/max*barArea(), Label: formatRate(m.v, true)})
	}
	return ch, missing
}

var stageOrder = []string{string(metrics.StagePreCheckIn), string(metrics.StageInDestination), string(metrics.StagePostCheckOut), ""}

func (h *Handler) stageBars(c *gin.Context, sel selection, pq store.PeriodQuery) (barChart, error) {
	counts := map[string]int{}
	if sel.NoPartner {
		// Stage groups cannot be narrowed to "no partner" through Period.
		f := store.ContactFilter{From: sel.From, To: sel.To, Partner: sel.partner()}
		err := h.Store.EachContact(c.Request.Context(), f, func(lc *store.ListedContact) error {
			counts[lc.Stage]++
			return nil
		})
		if err != nil {
			return barChart{}, err
		}
	} else {
		pq.GroupBy = metrics.GroupStage
		_, groups, err := h.Store.Period(c.Request.Context(), pq)
		if err != nil {
			return barChart{}, err
		}
		for _, g := range groups {
			k := ""
			if g.Key != nil {
				k = *g.Key
			}
			counts[k] = g.Totals.Contacts
		}
	}
	total, max := 0, 0
	for _, n := range counts {
		total += n
		max = int(math.Max(float64(max), float64(n)))
	}
	if total == 0 {
		return barChart{Note: "No contacts in this period."}, nil
	}
	var bars []bar
	var vals []float64
	for _, k := range stageOrder {
		n := counts[k]
		label, stage := k, k
		if k == "" {
			label, stage = "no stage", "none"
		}
		bars = append(bars, bar{Key: label, Label: label, Value: fmt.Sprintf("%d (%.0f %%)", n, float64(n)/float64(total)*100),
			Href: drill(sel, store.SetAll, url.Values{"stage": {stage}}), Class: "stage",
			Title: fmt.Sprintf("%s: %d contacts", label, n)})
		vals = append(vals, float64(n))
	}
	return layoutBars(bars, vals, float64(max)), nil
}

// lineChart is the weekly trend: two series on a 0–100 % axis.
type lineChart struct {
	Note        string
	Height      int
	Left, Right float64 // plot edges, for the grid lines
	Series      []series
	XLabels     []axisLabel
	YLines      []axisLabel
	Partial     string
}

type series struct {
	Name, Class string
	Path        string
	Points      []point
}

type point struct {
	X, Y        float64
	Title, Href string
}

type axisLabel struct {
	X, Y  float64
	Label string
}

const (
	lineH     = 240
	lineLeft  = 56
	lineRight = 28
	lineTop   = 14
	lineBot   = 30
)

func (h *Handler) trend(c *gin.Context, sel selection, pq store.PeriodQuery) (lineChart, error) {
	buckets := metrics.Buckets(sel.From, sel.To, metrics.GroupWeek)
	if len(buckets) < 2 {
		return lineChart{Note: "A weekly trend needs a period spanning at least two weeks; choose a longer period."}, nil
	}
	if len(buckets) > 260 {
		return lineChart{Note: "The period is too long for a weekly trend (over five years); choose a shorter one."}, nil
	}
	weeks := make([]metrics.Totals, len(buckets))
	for i, b := range buckets {
		q := store.PeriodQuery{From: b.From, To: b.To, Partner: pq.Partner}
		t, groups, err := h.Store.Period(c.Request.Context(), withPartnerGroups(q, sel))
		if err != nil {
			return lineChart{}, err
		}
		if sel.NoPartner {
			t = nullGroup(groups)
		}
		weeks[i] = t
	}
	ch := lineChart{Height: lineH, Left: lineLeft, Right: chartWidth - lineRight}
	plotW := float64(chartWidth - lineLeft - lineRight)
	plotH := float64(lineH - lineTop - lineBot)
	x := func(i int) float64 { return lineLeft + plotW*float64(i)/float64(len(buckets)-1) }
	y := func(v float64) float64 { return lineTop + plotH*(1-v) }
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		ch.YLines = append(ch.YLines, axisLabel{X: lineLeft - 6, Y: y(v), Label: strconv.Itoa(int(v*100)) + " %"})
	}
	step := (len(buckets) + 7) / 8 // at most about 8 labels, so they never overlap
	for i, b := range buckets {
		if i%step == 0 || i == len(buckets)-1 && (len(buckets)-1)%step >= step/2 {
			ch.XLabels = append(ch.XLabels, axisLabel{X: x(i), Y: lineH - 8, Label: b.From.Format("2 Jan")})
		}
	}
	drawn := false
	for _, s := range []struct {
		name, class, set string
		get              func(metrics.Totals) *float64
	}{
		{"FCR rate", "fcr", store.SetResolved, func(t metrics.Totals) *float64 { return t.FCRRate }},
		{"Repeat contact rate", "repeat", store.SetRepeatCustomers, func(t metrics.Totals) *float64 { return t.RepeatContactRate }},
	} {
		se := series{Name: s.name, Class: s.class}
		var path strings.Builder
		pen := false
		for i, t := range weeks {
			v := s.get(t)
			if v == nil {
				pen = false // a gap, not a drop to zero
				continue
			}
			drawn = true
			cmd := "L"
			if !pen {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, x(i), y(*v))
			pen = true
			ws := sel
			ws.From, ws.To = buckets[i].From, buckets[i].To
			se.Points = append(se.Points, point{X: x(i), Y: y(*v), Href: drill(ws, s.set, nil),
				Title: fmt.Sprintf("%s, week of %s: %s", s.name, buckets[i].Key, formatRate(*v, true))})
		}
		se.Path = strings.TrimSpace(path.String())
		ch.Series = append(ch.Series, se)
	}
	if !drawn {
		return lineChart{Note: "No week in this period has a resolved contact or a customer yet, so there is no rate to draw."}, nil
	}
	if !buckets[0].From.Equal(metrics.BucketStart(buckets[0].From, metrics.GroupWeek)) ||
		!buckets[len(buckets)-1].To.Equal(metrics.BucketStart(buckets[len(buckets)-1].To, metrics.GroupWeek)) {
		ch.Partial = "Weeks start on Monday; the first and last may be partial."
	}
	return ch, nil
}

// withPartnerGroups asks for the partner breakdown when the selection is
// "no partner", whose figures only the null group holds.
func withPartnerGroups(q store.PeriodQuery, sel selection) store.PeriodQuery {
	if sel.NoPartner {
		q.GroupBy = metrics.GroupPartner
	}
	return q
}

type driverList struct {
	Title string
	Rows  []driverRow
	Note  string
}

type driverRow struct {
	Label, Href string
	N           int
	Share       string
	Width       int // percent of the list's largest
}

func driverLists(sel selection, d store.RepeatDrivers) []driverList {
	mk := func(title, param string, counts []store.DriverCount, blank string) driverList {
		l := driverList{Title: title}
		if len(counts) == 0 {
			l.Note = "None of the repeat contacts has one."
			if d.Repeats == 0 {
				l.Note = "No repeat contacts in this period."
			}
			return l
		}
		for _, c := range counts {
			label, val := c.Key, c.Key
			if c.Key == "" {
				label, val = blank, "none"
			}
			if param == "channel" && c.Key == "" {
				continue // every contact has a channel; a blank one says nothing
			}
			l.Rows = append(l.Rows, driverRow{Label: label, N: c.N,
				Href:  drill(sel, store.SetRepeat, url.Values{param: {val}}),
				Share: strconv.Itoa(int(math.Round(float64(c.N)/float64(d.Repeats)*100))) + " %",
				Width: int(math.Max(2, math.Round(float64(c.N)/float64(counts[0].N)*100)))})
		}
		return l
	}
	return []driverList{
		mk("Channel", "channel", d.Channels, ""),
		mk("Stage", "stage", d.Stages, "no stage"),
		mk("Ticket tag", "tag", d.Tags, ""),
	}
}
