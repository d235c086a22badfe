package zendesk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/recontact/recontact"
)

// TriggerBody is the JSON body to paste into a trigger's "Notify by > Active
// webhook" action (§2). Every value is quoted because placeholders render text
// and whether Zendesk escapes them inside JSON is unconfirmed (§2.1); for the
// same reason it carries no free text such as the organisation name. To send a
// booking reference, add "booking_ref":"{{ticket.ticket_field_<id>}}" with the
// id of the custom field.
const TriggerBody = `{"ticket_id":"{{ticket.id}}",` +
	`"created_at":"{{ticket.created_at_with_timestamp}}",` +
	`"updated_at":"{{ticket.updated_at_with_timestamp}}",` +
	`"status":"{{ticket.status}}",` +
	`"via":"{{ticket.via}}",` +
	`"requester_id":"{{ticket.requester.id}}",` +
	`"requester_email":"{{ticket.requester.email}}",` +
	`"org_id":"{{ticket.organization.id}}",` +
	`"org_external_id":"{{ticket.organization.external_id}}",` +
	`"tags":"{{ticket.tags}}"}`

// eventTypePrefix starts the type of every ticket event (§3).
const eventTypePrefix = "zen:event-type:ticket."

// Parse turns the body of an authentic Zendesk webhook into a Delivery. It
// accepts both kinds Zendesk sends: event-subscribed ticket events (§3) and
// trigger webhooks carrying TriggerBody (§2). The caller must have verified
// the request. Unusable input gives an EInvalid *recontact.Error naming the
// field by its JSON path.
//
// h is read only for Content-Type, to explain a body that is not JSON.
//
// Values Parse cannot map without guessing (a localised status, an unknown
// channel) are left empty and a JobZendeskTicket job asks the API instead.
func Parse(h http.Header, body []byte, received time.Time) (*recontact.Delivery, error) {
	top, ok := flatObject(body)
	if !ok {
		if err := json.Unmarshal(body, &top); err != nil || top == nil {
			return nil, notJSON(h, body)
		}
	}
	obj := object{m: top}
	var (
		p   parsed
		err error
	)
	switch {
	case obj.has("type"):
		p, err = parseEvent(obj)
	case obj.hasAny(triggerFields...):
		p, err = parseTrigger(obj, body)
	default:
		err = recontact.Errorf(recontact.EInvalid, "body is neither a ticket event nor a trigger payload")
	}
	if err != nil {
		return nil, err
	}
	c := p.contact
	c.Source = recontact.SourceZendesk
	if c.Status.Resolved() {
		// Neither kind carries solved_at; the metrics job replaces this with
		// the API's value once the ticket is read.
		c.ResolvedAt = c.UpdatedAt
	}
	d := &recontact.Delivery{
		Source:     recontact.SourceZendesk,
		Key:        p.key,
		ReceivedAt: received,
		Body:       body,
		Contact:    c,
		Activity:   p.activity,
		// Events report replies and reopens one by one; triggers do not, so for
		// them the store infers a reopen from a solved ticket turning open.
		ReportsActivity: obj.has("type"),
	}
	if c.Status == recontact.StatusUnknown || c.Channel == "" {
		d.Jobs = []recontact.Job{{Kind: recontact.JobZendeskTicket, Key: c.TicketID}}
	}
	return d, nil
}

// notJSON explains why a body did not decode to a JSON object. Trigger
// webhooks can be configured as XML or form-encoded (§2), which we do not read.
func notJSON(h http.Header, body []byte) error {
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		if mt == "application/xml" || mt == "text/xml" || mt == "application/x-www-form-urlencoded" {
			return recontact.Errorf(recontact.EInvalid, "body is "+mt+"; configure the webhook to send JSON")
		}
	}
	if json.Valid(body) {
		return recontact.Errorf(recontact.EInvalid, "body is not a JSON object")
	}
	return recontact.Errorf(recontact.EInvalid, "body is not valid JSON")
}

type parsed struct {
	key      string
	contact  *recontact.Contact
	activity recontact.Activity
}

// parseEvent reads an event-subscribed webhook (§3).
func parseEvent(top object) (parsed, error) {
	typ, err := top.text("type")
	if err != nil {
		return parsed{}, err
	}
	if !strings.HasPrefix(typ, eventTypePrefix) {
		return parsed{}, recontact.Errorf(recontact.EInvalid, "unsupported event type "+strconv.Quote(clip(typ, 80)))
	}
	id, err := top.required("id")
	if err != nil {
		return parsed{}, err
	}
	detail, ok, err := top.object("detail")
	if err != nil {
		return parsed{}, err
	}
	if !ok {
		return parsed{}, missing(top.name("detail"))
	}
	c, err := eventTicket(detail)
	if err != nil {
		return parsed{}, err
	}
	// The shape of event is unconfirmed (§3), so a surprise there costs only
	// the activity hint; the metrics job reads the true counts anyway.
	ev, _, _ := top.object("event")
	return parsed{
		key:      "event:" + id,
		contact:  c,
		activity: eventActivity(strings.TrimPrefix(typ, eventTypePrefix), ev),
	}, nil
}

// eventTicket maps an event's detail, the ticket as it is after the event.
// Ids are strings in captures but numbers elsewhere, so both are read (§3).
func eventTicket(d object) (*recontact.Contact, error) {
	c := &recontact.Contact{}
	var err error
	if c.TicketID, err = d.id("id", true); err != nil {
		return nil, err
	}
	if c.RequesterID, err = d.id("requester_id", false); err != nil {
		return nil, err
	}
	if c.OrgID, err = d.id("organization_id", false); err != nil {
		return nil, err
	}
	status, err := d.text("status")
	if err != nil {
		return nil, err
	}
	// Upper case in events; DELETED, ARCHIVED and SCRUBBED also occur and stay
	// unknown (§3), so a deleted, merged or spam ticket still parses.
	c.Status = apiStatus(status)
	if c.CreatedAt, err = d.time("created_at", false); err != nil {
		return nil, err
	}
	if c.UpdatedAt, err = d.time("updated_at", true); err != nil {
		return nil, err
	}
	if c.Tags, err = d.tags("tags", false); err != nil {
		return nil, err
	}
	via, _, err := d.object("via")
	if err != nil {
		return nil, err
	}
	channel, err := via.text("channel")
	if err != nil {
		return nil, err
	}
	c.Channel = apiChannel(channel)
	return c, nil
}

// eventActivity counts what one ticket event adds: a public agent reply, or a
// reopen (a solved or closed ticket moving back to an unsolved status).
func eventActivity(action string, ev object) recontact.Activity {
	switch action {
	case "comment_added":
		comment, _, _ := ev.object("comment")
		author, _, _ := comment.object("author")
		if comment.isTrue("is_public") && author.isTrue("is_staff") {
			return recontact.Activity{Replies: 1}
		}
	case "status_changed":
		prev, _ := ev.text("previous")
		cur, _ := ev.text("current")
		if apiStatus(prev).Resolved() && unsolved(apiStatus(cur)) {
			return recontact.Activity{Reopens: 1}
		}
	}
	return recontact.Activity{}
}

func unsolved(s recontact.Status) bool {
	return s == recontact.StatusNew || s == recontact.StatusOpen || s == recontact.StatusPending || s == recontact.StatusHold
}

// triggerFields are the keys of TriggerBody plus the optional extras; any of
// them marks a body as a trigger payload, so a missing ticket_id is named.
var triggerFields = []string{
	"ticket_id", "created_at", "updated_at", "status", "via", "requester_id", "requester_email",
	"org_id", "org_external_id", "org_name", "tags", "booking_ref",
}

// parseTrigger reads a trigger webhook with TriggerBody (§2). Placeholders
// render blank for empty fields, so "" means absent throughout.
func parseTrigger(b object, body []byte) (parsed, error) {
	c := &recontact.Contact{}
	var err error
	if c.TicketID, err = b.id("ticket_id", true); err != nil {
		return parsed{}, err
	}
	updatedRaw, err := b.required("updated_at")
	if err != nil {
		return parsed{}, err
	}
	if c.UpdatedAt, err = b.time("updated_at", true); err != nil {
		return parsed{}, err
	}
	if c.CreatedAt, err = b.time("created_at", true); err != nil {
		return parsed{}, err
	}
	if c.RequesterID, err = b.id("requester_id", false); err != nil {
		return parsed{}, err
	}
	if c.OrgID, err = b.id("org_id", false); err != nil {
		return parsed{}, err
	}
	var status, via, extID, orgName string
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"requester_email", &c.CustomerEmail}, {"status", &status}, {"via", &via},
		{"org_external_id", &extID}, {"org_name", &orgName}, {"booking_ref", &c.BookingRef},
	} {
		if *f.dst, err = b.text(f.key); err != nil {
			return parsed{}, err
		}
	}
	c.Status = displayStatus(status)
	c.Channel = displayChannel(via)
	c.Partner = extID
	if c.Partner == "" {
		c.Partner = orgName
	}
	if c.Tags, err = b.tags("tags", true); err != nil {
		return parsed{}, err
	}
	// Zendesk's invocation id is not known to survive retries (§1.1), and the
	// minute-precision updated_at repeats within a minute, so the key adds a
	// digest of the content: a retry dedupes, a different update does not.
	sum := sha256.Sum256(body)
	key := "trigger:" + c.TicketID + ":" + updatedRaw + ":" + hex.EncodeToString(sum[:])[:16]
	return parsed{key: key, contact: c}, nil
}

// apiStatus maps the API's status values: lower case in the REST API, upper
// case in events (§3). Anything else (deleted, archived, scrubbed) is unknown.
func apiStatus(s string) recontact.Status {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "new":
		return recontact.StatusNew
	case "open":
		return recontact.StatusOpen
	case "pending":
		return recontact.StatusPending
	case "hold":
		return recontact.StatusHold
	case "solved":
		return recontact.StatusSolved
	case "closed":
		return recontact.StatusClosed
	}
	return recontact.StatusUnknown
}

// displayStatus maps the English display names {{ticket.status}} renders
// (§2.1). It is localised to the requester's language, so any other text is
// unknown rather than guessed.
func displayStatus(s string) recontact.Status {
	if t := strings.ToLower(strings.TrimSpace(s)); t == "on-hold" || t == "on hold" {
		return recontact.StatusHold
	}
	return apiStatus(s) // the other English names equal the API values
}

// viaDisplay maps the English display names {{ticket.via}} renders to API
// channel ids (§2.1, [VIA]); the full list is unconfirmed, so the rest are unknown.
var viaDisplay = map[string]string{
	"web form":    "web_form",
	"mail":        "email",
	"email":       "email",
	"e-mail":      "email",
	"web service": "web_service",
	"api":         "web_service",
	"chat":        "chat",
	"phone call":  "voice",
	"voice":       "voice",
	"messaging":   "native_messaging",
	"web widget":  "web_widget",
	"mobile sdk":  "mobile_sdk",
	"sms":         "sms",
}

// displayChannel maps a {{ticket.via}} display string, or an API channel id
// sent as is, to a channel; "" when unknown.
func displayChannel(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if ch, ok := viaDisplay[s]; ok {
		return ch
	}
	for _, ch := range viaDisplay {
		if s == ch {
			return ch
		}
	}
	return ""
}

// apiChannel normalises an API or event via.channel. Events show "mail" for
// e-mail tickets (§3) where the trigger mapping says "email"; one spelling
// keeps channels comparable across the two kinds of webhook.
func apiChannel(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "mail" {
		return "email"
	}
	return s
}

// Timestamp layouts: RFC 3339 (fractional seconds allowed) from events and the
// API, and the minute precision of *_with_timestamp placeholders (§2.1). No
// string fits both, so the order only decides which is tried first.
const (
	minuteLayout      = "2006-01-02T15:04Z07:00"
	minuteLayoutWidth = len("2006-01-02T15:04Z")
)

var (
	timeLayouts = []string{time.RFC3339Nano, minuteLayout}
	minuteFirst = []string{minuteLayout, time.RFC3339Nano}
)

func parseTime(s string) (time.Time, bool) {
	layouts := timeLayouts
	if len(s) == minuteLayoutWidth {
		layouts = minuteFirst // a trigger's placeholders: skip a failed parse
	}
	for _, layout := range layouts {
		// The zero time would read as "no timestamp" further on.
		if t, err := time.Parse(layout, s); err == nil && !t.IsZero() {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// object reads the fields of one JSON object, naming them by their path so
// that an error says exactly which field was wrong. The zero object is empty.
type object struct {
	path string
	m    map[string]json.RawMessage
}

func (o object) name(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

func (o object) has(key string) bool {
	_, ok := o.m[key]
	return ok
}

func (o object) hasAny(keys ...string) bool {
	for _, k := range keys {
		if o.has(k) {
			return true
		}
	}
	return false
}

// text returns a string or number field as trimmed text; absent and null give "".
func (o object) text(key string) (string, error) {
	raw, ok := o.m[key]
	if !ok {
		return "", nil
	}
	s, ok := scalar(raw)
	if !ok {
		return "", recontact.Errorf(recontact.EInvalid, "field "+o.name(key)+" is not a string")
	}
	return strings.TrimSpace(s), nil
}

func (o object) required(key string) (string, error) {
	s, err := o.text(key)
	if err == nil && s == "" {
		err = missing(o.name(key))
	}
	return s, err
}

// id returns a Zendesk id: digits, sent as a JSON string or number.
func (o object) id(key string, required bool) (string, error) {
	s, err := o.text(key)
	switch {
	case err != nil:
		return "", err
	case s == "" && required:
		return "", missing(o.name(key))
	case s != "" && !isID(s):
		return "", recontact.Errorf(recontact.EInvalid, "field "+o.name(key)+" is not an id")
	}
	return s, nil
}

func (o object) time(key string, required bool) (time.Time, error) {
	s, err := o.text(key)
	switch {
	case err != nil:
		return time.Time{}, err
	case s == "" && required:
		return time.Time{}, missing(o.name(key))
	case s == "":
		return time.Time{}, nil
	}
	t, ok := parseTime(s)
	if !ok {
		return time.Time{}, recontact.Errorf(recontact.EInvalid, "field "+o.name(key)+" is not a timestamp")
	}
	return t, nil
}

// tags reads a JSON array of strings or null; with joined, also the single
// whitespace-separated string {{ticket.tags}} renders (§2.1). Tags cannot
// contain spaces, so splitting on whitespace is exact.
func (o object) tags(key string, joined bool) ([]string, error) {
	raw, ok := o.m[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		if s, ok := scalar(raw); ok && joined && raw[0] == '"' {
			return nilIfEmpty(strings.Fields(s)), nil
		}
		return nil, recontact.Errorf(recontact.EInvalid, "field "+o.name(key)+" is not a list of tags")
	}
	var tags []string
	for _, item := range list {
		s, ok := scalar(item)
		if !ok || item[0] != '"' {
			return nil, recontact.Errorf(recontact.EInvalid, "field "+o.name(key)+" is not a list of tags")
		}
		tags = append(tags, strings.Fields(s)...)
	}
	return nilIfEmpty(tags), nil
}

// object returns a nested object; ok is false when it is absent or null.
func (o object) object(key string) (object, bool, error) {
	child := object{path: o.name(key)}
	raw, ok := o.m[key]
	if !ok || isNull(raw) {
		return child, false, nil
	}
	if err := json.Unmarshal(raw, &child.m); err != nil {
		return child, false, recontact.Errorf(recontact.EInvalid, "field "+o.name(key)+" is not an object")
	}
	return child, true, nil
}

// isTrue reports whether the field is the JSON literal true.
func (o object) isTrue(key string) bool {
	return string(bytes.TrimSpace(o.m[key])) == "true"
}

// scalar returns a JSON string's value, a number's literal (so large ids keep
// every digit), or "" for null; ok is false for objects, arrays and booleans.
func scalar(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch c := raw[0]; {
	case c == '"':
		// raw was validated with the whole body, so a string without
		// escapes is its bytes between the quotes (valid UTF-8 only: the
		// decoder replaces invalid bytes). Most fields are; the decoder
		// costs a microsecond each.
		if len(raw) >= 2 {
			if in := raw[1 : len(raw)-1]; bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
				return string(in), true
			}
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
		return s, true
	case c == '-' || ('0' <= c && c <= '9'):
		return string(raw), true
	case c == 'n':
		return "", true
	}
	return "", false
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// isID reports whether s looks like a Zendesk id. Ids go into API paths, so
// nothing else may pass.
func isID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func missing(field string) error {
	return recontact.Errorf(recontact.EInvalid, "missing field "+field)
}

// clip keeps a message to about n bytes when it echoes something long,
// cutting at a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// flatObject reads the body a trigger sends: one JSON object whose values are
// all strings of printable ASCII without escapes. It reads it in one pass
// where the decoder takes several and an allocation per field, and says ok
// only when the decoder would read the same map (FuzzFlatObject); any other
// body, valid or not, is left to the decoder. The values alias body.
func flatObject(body []byte) (map[string]json.RawMessage, bool) {
	i := skipSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return nil, false
	}
	m := make(map[string]json.RawMessage, 12)
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return m, skipSpace(body, i+1) == len(body)
	}
	for {
		key, end, ok := plainString(body, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(body, end)
		if i == len(body) || body[i] != ':' {
			return nil, false
		}
		start := skipSpace(body, i+1)
		if _, end, ok = plainString(body, start); !ok {
			return nil, false
		}
		m[string(key)] = body[start:end:end]
		i = skipSpace(body, end)
		if i == len(body) {
			return nil, false
		}
		switch body[i] {
		case ',':
			i = skipSpace(body, i+1)
		case '}':
			return m, skipSpace(body, i+1) == len(body)
		default:
			return nil, false
		}
	}
}

// plainString reads a JSON string at body[i] made of printable ASCII without
// escapes, returning its content and the index after its closing quote.
func plainString(body []byte, i int) (content []byte, end int, ok bool) {
	if i >= len(body) || body[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(body); j++ {
		switch c := body[j]; {
		case c == '"':
			return body[i+1 : j], j + 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(body []byte, i int) int {
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	return i
}
