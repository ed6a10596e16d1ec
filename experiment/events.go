package experiment

import (
	"context"
	"fmt"
	"slices"

	"github.com/redisflags/redisflags/store"
)

// FromEvents builds the arms of flag's experiment in environment (any when
// empty) from tracking-stream entries in stream order: a subject counts in
// the variant of its latest exposure, and as converted when it sent an event
// named metric after that exposure. Arms are sorted by variant name and
// carry no weights.
func FromEvents(evs []store.TrackedEvent, flag, environment, metric string) []Arm {
	type subject struct {
		variant   string
		converted bool
	}
	subjects := make(map[string]*subject)
	for _, e := range evs {
		switch {
		case e.Kind == store.EventExposure && e.Flag == flag && (environment == "" || e.Environment == environment):
			s := subjects[e.Subject]
			if s == nil {
				s = &subject{}
				subjects[e.Subject] = s
			}
			s.variant, s.converted = e.Variant, false
		case e.Kind == store.EventTrack && e.Name == metric:
			if s := subjects[e.Subject]; s != nil {
				s.converted = true
			}
		}
	}
	byVariant := make(map[string]*Arm)
	for _, s := range subjects {
		a := byVariant[s.variant]
		if a == nil {
			a = &Arm{Variant: s.variant}
			byVariant[s.variant] = a
		}
		a.Exposed++
		if s.converted {
			a.Converted++
		}
	}
	arms := make([]Arm, 0, len(byVariant))
	for _, a := range byVariant {
		arms = append(arms, *a)
	}
	slices.SortFunc(arms, func(a, b Arm) int {
		switch {
		case a.Variant < b.Variant:
			return -1
		case a.Variant > b.Variant:
			return 1
		}
		return 0
	})
	return arms
}

// MaxEvents bounds how many stream entries ReadEvents reads.
const MaxEvents = 5_000_000

// ReadEvents reads the tracking stream after the entry ID after ("" for
// the start), in pages, up to MaxEvents entries; it returns them and the
// last ID read (after itself when there were none).
func ReadEvents(ctx context.Context, st *store.Store, after string) ([]store.TrackedEvent, string, error) {
	var all []store.TrackedEvent
	for len(all) < MaxEvents {
		page, err := st.ReadEvents(ctx, after, 10_000)
		if err != nil {
			return nil, after, fmt.Errorf("experiment: %w", err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
	return all, after, nil
}
