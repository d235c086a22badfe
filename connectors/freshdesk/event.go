package freshdesk

import (
	"fmt"
	"strings"
)

// Event is one entry of Freshdesk's {{triggered_event}} placeholder: either a
// plain value, {ticket_action:created} or {note_type:private}, or a change,
// {status:{from:4,to:2}} (freshdesk.md §1.2, from Zulip's parser).
type Event struct {
	Name  string // ticket_action, status, priority, note_type, ...
	Value string // the plain form's value; "" for a change
	From  string // the change form's old value (status ids are numbers)
	To    string // the change form's new value
}

// Reopen reports whether the event moved a ticket out of Resolved (4) or
// Closed (5) into any other status, custom ones included.
func (e Event) Reopen() bool {
	return e.Name == "status" && resolvedStatus(e.From) && e.To != "" && !resolvedStatus(e.To)
}

func resolvedStatus(s string) bool {
	switch strings.ToLower(s) {
	case "4", "5", "resolved", "closed":
		return true
	}
	return false
}

// ParseEvents parses the {{triggered_event}} text. It is not JSON: keys and
// values are bare, e.g. {status:{from:4,to:6}}. Freshdesk reports one event
// per call, but several top-level entries separated by commas are accepted.
// Stray double quotes around keys or values are ignored, so a JSON-looking
// variant parses too.
func ParseEvents(s string) ([]Event, error) {
	p := &eventParser{s: s}
	p.space()
	if !p.eat('{') {
		return nil, p.errorf("want '{'")
	}
	var events []Event
	for {
		name, err := p.token()
		if err != nil {
			return nil, err
		}
		if !p.eat(':') {
			return nil, p.errorf("want ':' after %q", name)
		}
		e := Event{Name: name}
		if p.eat('{') {
			if err := p.change(&e); err != nil {
				return nil, err
			}
		} else if e.Value, err = p.token(); err != nil {
			return nil, err
		}
		events = append(events, e)
		if p.eat(',') {
			continue
		}
		if !p.eat('}') {
			return nil, p.errorf("want ',' or '}'")
		}
		break
	}
	if p.space(); p.i != len(p.s) {
		return nil, p.errorf("unexpected text after '}'")
	}
	return events, nil
}

type eventParser struct {
	s string
	i int
}

// change reads from:a,to:b} after its opening brace. Keys other than from and
// to are skipped: the format is only known from samples.
func (p *eventParser) change(e *Event) error {
	for {
		key, err := p.token()
		if err != nil {
			return err
		}
		if !p.eat(':') {
			return p.errorf("want ':' after %q", key)
		}
		val, err := p.token()
		if err != nil {
			return err
		}
		switch key {
		case "from":
			e.From = val
		case "to":
			e.To = val
		}
		if p.eat(',') {
			continue
		}
		if !p.eat('}') {
			return p.errorf("want ',' or '}'")
		}
		return nil
	}
}

// token reads a bare word up to the next delimiter, trimmed of spaces and
// quotes. Empty words are an error.
func (p *eventParser) token() (string, error) {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune("{}:,", rune(p.s[p.i])) {
		p.i++
	}
	t := strings.Trim(strings.TrimSpace(p.s[start:p.i]), `"`)
	if t == "" {
		return "", p.errorf("want a name or value")
	}
	return t, nil
}

// eat skips spaces and consumes c if it comes next.
func (p *eventParser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *eventParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *eventParser) errorf(format string, args ...any) error {
	return fmt.Errorf("triggered_event at byte %d: %s", p.i, fmt.Sprintf(format, args...))
}
