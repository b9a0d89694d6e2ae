package storagetest_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage"
)

// regionsVote: verdicts and canary rows as the regions' vote reads them. A
// failing verdict written again keeps when it began; a changed one starts
// again; a failed transaction writes no part of a heartbeat; old verdicts
// and canary rows are forgotten; a replica's canary row is one row, the
// last written, beside its region's other replicas' rows.
func regionsVote(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	const a, b = "https://a.example/", "https://b.example/"
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

	must(t, db.RecordVerdict(ctx, incidents.Verdict{Target: a, Region: "eu-west", Failing: true, Cause: linkwatch.CauseConnectRefused, Since: at(0), UpdatedAt: at(0)}))
	must(t, db.RecordVerdict(ctx, incidents.Verdict{Target: a, Region: "us-east", Failing: false, Since: at(5), UpdatedAt: at(5)}))
	must(t, db.RecordVerdict(ctx, incidents.Verdict{Target: b, Region: "eu-west", Failing: true, Cause: linkwatch.CauseDNS, Since: at(3), UpdatedAt: at(3)}))
	// The heartbeat writes eu-west's failing verdict on a again, with a
	// later since (as a replica that took the host over would): the
	// failure's start is kept.
	must(t, db.RecordRegion(ctx, incidents.RegionHealth{Region: "eu-west", CanaryOK: true, At: at(10)},
		[]incidents.Verdict{{Target: a, Region: "eu-west", Failing: true, Cause: linkwatch.CauseTimeout, Since: at(9), UpdatedAt: at(10)}}, at(-3600)))
	must(t, db.RecordRegion(ctx, incidents.RegionHealth{Region: "us-east", CanaryOK: false, At: at(11)}, nil, at(-3600)))

	got, err := db.Verdicts(ctx, []string{a})
	must(t, err)
	want := []incidents.Verdict{
		{Target: a, Region: "eu-west", Failing: true, Cause: linkwatch.CauseTimeout, Since: at(0), UpdatedAt: at(10)},
		{Target: a, Region: "us-east", Failing: false, Since: at(5), UpdatedAt: at(5)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("verdicts on a = %+v, want %+v", got, want)
	}
	if got, err := db.Verdicts(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("verdicts on no target = %+v, %v", got, err)
	}

	// A changed verdict starts again: us-east now sees a failing.
	must(t, db.RecordVerdict(ctx, incidents.Verdict{Target: a, Region: "us-east", Failing: true, Cause: linkwatch.CauseDNS, Since: at(20), UpdatedAt: at(20)}))
	got, err = db.Verdicts(ctx, []string{a, b})
	must(t, err)
	if len(got) != 3 || got[1].Region != "us-east" || !got[1].Failing || !got[1].Since.Equal(at(20)) || got[2].Target != b {
		t.Errorf("after us-east's change: %+v", got)
	}

	// The canary rows: one per replica (here each region's one unnamed
	// replica), the last written.
	must(t, db.RecordRegion(ctx, incidents.RegionHealth{Region: "us-east", CanaryOK: true, At: at(21)}, nil, at(-3600)))
	health, err := db.Regions(ctx)
	must(t, err)
	if want := []incidents.RegionHealth{{Region: "eu-west", CanaryOK: true, At: at(10)}, {Region: "us-east", CanaryOK: true, At: at(21)}}; !reflect.DeepEqual(health, want) {
		t.Errorf("regions = %+v, want %+v", health, want)
	}

	// A heartbeat that cannot commit writes nothing, not its canary row.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := db.RecordRegion(cctx, incidents.RegionHealth{Region: "eu-west", CanaryOK: false, At: at(30)}, nil, at(-3600)); err == nil {
		t.Fatal("a heartbeat with a cancelled context was written")
	}
	if health, _ := db.Regions(ctx); !health[0].CanaryOK || !health[0].At.Equal(at(10)) {
		t.Errorf("a refused heartbeat changed the canary row: %+v", health[0])
	}

	// Verdicts nobody wrote since forgetBefore are forgotten: b's (at 3)
	// and us-east's on a (at 20) go, eu-west's rewritten one stays.
	must(t, db.RecordRegion(ctx, incidents.RegionHealth{Region: "eu-west", CanaryOK: true, At: at(40)},
		[]incidents.Verdict{{Target: a, Region: "eu-west", Failing: true, Cause: linkwatch.CauseTimeout, Since: at(40), UpdatedAt: at(40)}}, at(25)))
	got, err = db.Verdicts(ctx, []string{a, b})
	must(t, err)
	if len(got) != 1 || got[0].Region != "eu-west" || !got[0].Since.Equal(at(0)) {
		t.Errorf("after forgetting: %+v", got)
	}
	// Canary rows nobody wrote since forgetBefore go too (us-east's, at
	// 21): a replica id is one process start's, they must not pile up.
	health, err = db.Regions(ctx)
	must(t, err)
	if want := []incidents.RegionHealth{{Region: "eu-west", CanaryOK: true, At: at(40)}}; !reflect.DeepEqual(health, want) {
		t.Errorf("regions after forgetting = %+v, want %+v", health, want)
	}

	// Each replica of a region has its own canary row: a second eu-west
	// replica whose own network is down does not overwrite the first's
	// proof, and a replica's row is its last written.
	must(t, db.RecordRegion(ctx, incidents.RegionHealth{Region: "eu-west", Replica: "r2", CanaryOK: true, At: at(41)}, nil, at(25)))
	must(t, db.RecordRegion(ctx, incidents.RegionHealth{Region: "eu-west", Replica: "r2", CanaryOK: false, At: at(42)}, nil, at(25)))
	health, err = db.Regions(ctx)
	must(t, err)
	if want := []incidents.RegionHealth{{Region: "eu-west", CanaryOK: true, At: at(40)}, {Region: "eu-west", Replica: "r2", CanaryOK: false, At: at(42)}}; !reflect.DeepEqual(health, want) {
		t.Errorf("regions with two eu-west replicas = %+v, want %+v", health, want)
	}
}

// openIncidentsOnHost: the open incidents of one host, whatever their
// kind, and none of another host's or resolved ones.
func openIncidentsOnHost(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	record := func(key, host string, kind linkwatch.IncidentKind, resolved bool) int64 {
		inc := openIncident(key, t0)
		inc.Host, inc.Kind = host, kind
		if resolved {
			inc.Status, inc.ResolvedAt = linkwatch.StatusResolved, t0.Add(time.Minute)
		}
		saved, err := db.Record(ctx, incidents.Change{Incident: inc})
		must(t, err)
		return saved.ID
	}
	record("dest:https://shop.example/old", "shop.example", linkwatch.KindDestination, true)
	dest := record("dest:https://shop.example/a", "shop.example", linkwatch.KindDestination, false)
	record("dest:https://blog.example/", "blog.example", linkwatch.KindDestination, false)
	note := record("regional:https://shop.example/b", "shop.example", linkwatch.KindRegional, false)
	host := record("host:shop.example|dns", "shop.example", linkwatch.KindHost, false)
	record("hub", "", linkwatch.KindHub, false)
	got, err := db.OpenIncidentsOnHost(ctx, "shop.example")
	must(t, err)
	var ids []int64
	for _, inc := range got {
		ids = append(ids, inc.ID)
	}
	if want := []int64{dest, note, host}; !reflect.DeepEqual(ids, want) {
		t.Errorf("open incidents on shop.example = %v, want %v", ids, want)
	}
	if got, err := db.OpenIncidentsOnHost(ctx, "nowhere.example"); err != nil || len(got) != 0 {
		t.Errorf("on a host without incidents: %+v, %v", got, err)
	}
}

// failureEnds: a resolution's Ends are kept, at its ResolvedAt, in its
// transaction: the latest end of each target, never an earlier one over
// it; a change that is no resolution keeps none; a refused resolution
// keeps none; the heartbeat forgets old ends with old verdicts.
func failureEnds(t *testing.T, db storage.Store, _ *Clock) {
	ctx := context.Background()
	const a, b, c = "https://shop.example/a", "https://shop.example/b", "https://shop.example/c"
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	resolveAt := func(key string, s int, ends ...string) (linkwatch.Incident, error) {
		inc, err := db.Record(ctx, incidents.Change{Incident: openIncident(key, at(0))})
		must(t, err)
		inc.Status, inc.ResolvedAt, inc.UpdatedAt = linkwatch.StatusResolved, at(s), at(s)
		return db.Record(ctx, incidents.Change{Incident: inc, Ends: ends})
	}
	_, err := resolveAt("dest:"+a, 20, a, b)
	must(t, err)
	_, err = resolveAt("dest:"+b, 10, b) // an earlier end does not go back
	must(t, err)
	open, err := db.Record(ctx, incidents.Change{Incident: openIncident("dest:"+c, at(0)), Ends: []string{c}})
	must(t, err)
	// A resolution refused as stale keeps no end.
	stale := open
	stale.Version = 7
	stale.Status, stale.ResolvedAt = linkwatch.StatusResolved, at(30)
	if _, err := db.Record(ctx, incidents.Change{Incident: stale, Ends: []string{c}}); !errors.Is(err, linkwatch.ErrConflict) {
		t.Fatalf("stale resolution: %v, want ErrConflict", err)
	}
	ends, err := db.Ends(ctx, []string{a, b, c, "https://other.example/"})
	must(t, err)
	if want := map[string]time.Time{a: at(20), b: at(20)}; !reflect.DeepEqual(ends, want) {
		t.Errorf("ends = %v, want %v", ends, want)
	}
	must(t, db.RecordRegion(ctx, incidents.RegionHealth{Region: "eu-west", CanaryOK: true, At: at(60)}, nil, at(21)))
	if ends, err := db.Ends(ctx, []string{a, b}); err != nil || len(ends) != 0 {
		t.Errorf("ends after forgetting before 21 s = %v, %v; want none", ends, err)
	}
}
