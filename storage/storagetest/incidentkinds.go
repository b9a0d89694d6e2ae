package storagetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"linkwatch/incidents"
	"linkwatch/storage"
)

// publicAndInternalIncidents: a query can ask for the public incidents
// only (what the status page lists) or the internal ones only (the
// prober's own, which say when checks were unknown).
func publicAndInternalIncidents(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	record := func(kind incidents.Kind, key string, resolved bool, at time.Time) int64 {
		t.Helper()
		inc := openIncident(key, at)
		inc.Kind = kind
		if resolved {
			inc.Status, inc.ResolvedAt = incidents.StatusResolved, at.Add(time.Minute)
		}
		saved, err := db.Record(ctx, incidents.Change{Incident: inc})
		must(t, err)
		return saved.ID
	}
	// The public one is the oldest: a limit applies after the filter.
	dest := record(incidents.KindDestination, "dest:https://shop.example/", true, t0.Add(-time.Hour))
	prober := record(incidents.KindProberOffline, "prober", true, t0)
	canary := record(incidents.KindCanary, "canary", false, t0)
	ids := func(q incidents.Query) []int64 {
		t.Helper()
		list, err := db.ListIncidents(ctx, q)
		must(t, err)
		var out []int64
		for _, inc := range list {
			out = append(out, inc.ID)
		}
		slices.Sort(out)
		return out
	}
	every := []int64{prober, canary, dest}
	slices.Sort(every)
	yes, no, closed := true, false, false
	for _, tt := range []struct {
		name string
		q    incidents.Query
		want []int64
	}{
		{"every kind", incidents.Query{}, every},
		{"internal", incidents.Query{Internal: &yes}, []int64{prober, canary}},
		{"public", incidents.Query{Internal: &no}, []int64{dest}},
		{"internal, resolved", incidents.Query{Internal: &yes, Open: &closed}, []int64{prober}},
		{"public, limit 1", incidents.Query{Internal: &no, Limit: 1}, []int64{dest}},
	} {
		if got := ids(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("%s: incidents %v, want %v", tt.name, got, tt.want)
		}
	}
}
