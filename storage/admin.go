package storage

import (
	"time"

	"linkwatch"
)

// ActiveAt returns the windows of all (which end after t) that have
// started by t.
func ActiveAt(all []linkwatch.Maintenance, t time.Time) []linkwatch.Maintenance {
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
func ChannelStates(names []string, off map[string]linkwatch.ChannelState, counts map[string]map[linkwatch.DeliveryStatus]int64) []linkwatch.ChannelState {
	out := make([]linkwatch.ChannelState, 0, len(names))
	for _, name := range names {
		st, disabled := off[name]
		st.Name, st.Enabled = name, !disabled
		st.Deliveries = counts[name]
		if st.Deliveries == nil {
			st.Deliveries = map[linkwatch.DeliveryStatus]int64{}
		}
		out = append(out, st)
	}
	return out
}
