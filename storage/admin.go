package storage

import (
	"time"

	"linkwatch/incidents"
)

// ActiveAt returns the windows of all (which end after t) that have
// started by t.
func ActiveAt(all []incidents.Maintenance, t time.Time) []incidents.Maintenance {
	out := all[:0]
	for _, m := range all {
		if !t.Before(m.StartsAt) {
			out = append(out, m)
		}
	}
	return out
}

// ChannelStates lists the named channels in order: on, or off as off says,
// with their deliveries by status (counts: channel -> status -> number).
func ChannelStates(names []string, off map[string]incidents.ChannelState, counts map[string]map[string]int64) []incidents.ChannelState {
	out := make([]incidents.ChannelState, 0, len(names))
	for _, name := range names {
		st, disabled := off[name]
		st.Name, st.Enabled = name, !disabled
		st.Deliveries = counts[name]
		if st.Deliveries == nil {
			st.Deliveries = map[string]int64{}
		}
		out = append(out, st)
	}
	return out
}
