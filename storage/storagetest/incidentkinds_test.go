package storagetest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
)

// publicAndInternalIncidents: a query can ask for the public incidents
// only (what the status page lists) or the internal ones only (the
// prober's own, which say when checks were unknown).
func publicAndInternalIncidents(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	record := func(kind linkwatch.IncidentKind, key string, resolved bool, at time.Time) int64 {
		t.Helper()
		inc := openIncident(key, at)
		inc.Kind = kind
		if resolved {
			inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, at.Add(time.Minute)
		}
		saved, err := db.Record(ctx, incidents.Change{Incident: inc})
		must(t, err)
		return saved.ID
	}
	// The public one is the oldest: a limit applies after the filter.
	dest := record(linkwatch.KindDestination, "dest:https://shop.example/", true, t0.Add(-time.Hour))
	prober := record(linkwatch.KindProberOffline, "prober", true, t0)
	canary := record(linkwatch.KindCanary, "canary", false, t0)
	ids := func(q linkwatch.IncidentQuery) []int64 {
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
		q    linkwatch.IncidentQuery
		want []int64
	}{
		{"every kind", linkwatch.IncidentQuery{}, every},
		{"internal", linkwatch.IncidentQuery{Internal: &yes}, []int64{prober, canary}},
		{"public", linkwatch.IncidentQuery{Internal: &no}, []int64{dest}},
		{"internal, resolved", linkwatch.IncidentQuery{Internal: &yes, Open: &closed}, []int64{prober}},
		{"public, limit 1", linkwatch.IncidentQuery{Internal: &no, Limit: 1}, []int64{dest}},
	} {
		if got := ids(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("%s: incidents %v, want %v", tt.name, got, tt.want)
		}
	}
}
