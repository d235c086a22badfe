package outbox

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/recontact/recontact/metrics"
	"github.com/recontact/recontact/store"
)

// TagNames are the names of the tags recontact manages (metrics.md, "What
// agents see on a ticket"). Blank fields take the defaults.
type TagNames struct {
	Repeat      string // TAG_REPEAT_CONTACT, default repeat_contact
	FCR         string // TAG_FCR, default fcr
	NotFCR      string // TAG_NOT_FCR, default not_fcr
	StagePrefix string // TAG_STAGE_PREFIX, default stage_
}

// DefaultTagNames are the names metrics.md shows.
func DefaultTagNames() TagNames {
	return TagNames{Repeat: "repeat_contact", FCR: "fcr", NotFCR: "not_fcr", StagePrefix: "stage_"}
}

// stages are the stage values a stage tag can name. Only these are managed,
// so a foreign tag that happens to share the prefix ("stage_vip") is never
// touched.
var stages = []metrics.Stage{metrics.StagePreCheckIn, metrics.StageInDestination, metrics.StagePostCheckOut}

func (n TagNames) orDefaults() TagNames {
	d := DefaultTagNames()
	if n.Repeat == "" {
		n.Repeat = d.Repeat
	}
	if n.FCR == "" {
		n.FCR = d.FCR
	}
	if n.NotFCR == "" {
		n.NotFCR = d.NotFCR
	}
	if n.StagePrefix == "" {
		n.StagePrefix = d.StagePrefix
	}
	return n
}

// Stage is the tag of a stage: the prefix and the stage with "-" as "_"
// (stage_pre_check_in), or "" for no or an unknown stage.
func (n TagNames) Stage(stage string) string {
	if !slices.Contains(stages, metrics.Stage(stage)) {
		return ""
	}
	n = n.orDefaults()
	return n.StagePrefix + strings.ReplaceAll(stage, "-", "_")
}

// All lists every tag recontact manages.
func (n TagNames) All() []string {
	n = n.orDefaults()
	out := []string{n.Repeat, n.FCR, n.NotFCR}
	for _, s := range stages {
		out = append(out, n.Stage(string(s)))
	}
	return out
}

// Managed reports whether tag is one of recontact's own. Only these are ever
// added or removed; every other tag on a ticket belongs to someone else.
func (n TagNames) Managed(tag string) bool { return slices.Contains(n.All(), tag) }

// Validate rejects names a helpdesk would split or merge: a tag has no
// spaces or commas, and two managed tags must differ.
func (n TagNames) Validate() error {
	all := n.All()
	var errs []error
	for _, t := range all {
		if strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == ',' }) {
			errs = append(errs, fmt.Errorf("tag %q has a space or comma", t))
		}
	}
	sorted := slices.Sorted(slices.Values(all))
	if len(slices.Compact(sorted)) != len(all) {
		errs = append(errs, fmt.Errorf("tag names must differ: %v", all))
	}
	return errors.Join(errs...)
}

// DesiredTags are the tags a ticket should carry for its current evaluation:
// repeat_contact when it is a repeat contact, fcr or not_fcr once resolved
// (a pending FCR gets neither), and the stage tag.
func DesiredTags(c *store.StoredContact, names TagNames) []string {
	if c == nil {
		return nil
	}
	names = names.orDefaults()
	var out []string
	if c.Repeat {
		out = append(out, names.Repeat)
	}
	switch metrics.FCR(c.FCR) {
	case metrics.FCRYes:
		out = append(out, names.FCR)
	case metrics.FCRNo:
		out = append(out, names.NotFCR)
	}
	if t := names.Stage(c.Stage); t != "" {
		out = append(out, t)
	}
	return out
}

// Diff says what to send so that a ticket that carries written (what
// recontact last wrote) ends up with desired: add what is missing, remove
// what was written and is no longer wanted. Only managed tags are ever
// removed. Both lists are sorted and empty when nothing needs sending, which
// is what keeps the echo of our own write from causing another.
func Diff(desired, written []string, managed TagNames) (add, remove []string) {
	for _, t := range desired {
		if !slices.Contains(written, t) && !slices.Contains(add, t) {
			add = append(add, t)
		}
	}
	for _, t := range written {
		if !slices.Contains(desired, t) && managed.Managed(t) && !slices.Contains(remove, t) {
			remove = append(remove, t)
		}
	}
	slices.Sort(add)
	slices.Sort(remove)
	return add, remove
}

// applied is what a ticket that carried written carries after add and remove.
func applied(written, add, remove []string) []string {
	out := slices.DeleteFunc(slices.Clone(written), func(t string) bool { return slices.Contains(remove, t) })
	for _, t := range add {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}
