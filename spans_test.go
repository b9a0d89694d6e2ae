package linkwatch_test

import (
	"slices"
	"testing"
	"time"

	"linkwatch"
)

func TestUnknownSpans(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 22, h, m, 0, 0, time.UTC) }
	now := at(12, 0)
	list := []linkwatch.Incident{
		{Kind: linkwatch.KindProberOffline, StartedAt: at(9, 1), ResolvedAt: at(9, 30)},
		{Kind: linkwatch.KindProberOffline, StartedAt: at(9, 20), ResolvedAt: at(9, 40)}, // another replica's, overlapping
		{Kind: linkwatch.KindCanary, StartedAt: at(10, 0), ResolvedAt: at(11, 0)},        // checks still made: not unknown
		{Kind: linkwatch.KindDestination, StartedAt: at(10, 0)},
		{Kind: linkwatch.KindProberOffline, StartedAt: at(11, 50)}, // still open
	}
	want := []linkwatch.Span{{From: at(9, 0), To: at(9, 40)}, {From: at(11, 49), To: now}}
	if got := linkwatch.UnknownSpans(list, time.Minute, now); !slices.Equal(got, want) {
		t.Errorf("UnknownSpans = %v, want %v", got, want)
	}
	if got := linkwatch.UnknownSpans(nil, time.Minute, now); len(got) != 0 {
		t.Errorf("no incident: %v", got)
	}
	for _, k := range []linkwatch.IncidentKind{linkwatch.KindProberOffline, linkwatch.KindCanary} {
		if !k.Internal() {
			t.Errorf("%s is not internal", k)
		}
	}
	for _, k := range []linkwatch.IncidentKind{linkwatch.KindDestination, linkwatch.KindHost, linkwatch.KindHub, linkwatch.KindRegional} {
		if k.Internal() {
			t.Errorf("%s is internal", k)
		}
	}
}
