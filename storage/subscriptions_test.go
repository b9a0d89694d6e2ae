package storage

import (
	"slices"
	"testing"
	"time"

	"linkwatch"
)

func TestReplayPageNeverEndsInsideOneTime(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	at := func(id int64, sec int) ReplayRow {
		return ReplayRow{ID: id, CreatedAt: t0.Add(time.Duration(sec) * time.Second), Alert: linkwatch.Alert{IncidentID: id}}
	}
	all := func(linkwatch.Alert) bool { return true }
	rows := []ReplayRow{at(1, 0), at(2, 1), at(3, 1), at(4, 2)}
	for _, c := range []struct {
		limit int
		match func(linkwatch.Alert) bool
		ids   []int64
		next  time.Time
	}{
		{10, all, []int64{1, 2, 3, 4}, time.Time{}},
		{4, all, []int64{1, 2, 3, 4}, time.Time{}},
		{3, all, []int64{1, 2, 3}, t0.Add(2 * time.Second)},
		// 2 and 3 were made at once: the page stops before them, and the
		// next, from their time, sends each once.
		{2, all, []int64{1}, t0.Add(time.Second)},
		{1, all, []int64{1}, t0.Add(time.Second)},
		{1, func(a linkwatch.Alert) bool { return a.IncidentID != 1 }, []int64{2, 3}, t0.Add(2 * time.Second)},
		{1, func(a linkwatch.Alert) bool { return a.IncidentID == 2 || a.IncidentID == 3 }, []int64{2, 3}, time.Time{}},
		{2, func(a linkwatch.Alert) bool { return a.IncidentID != 2 }, []int64{1, 3}, t0.Add(2 * time.Second)},
		{1, func(linkwatch.Alert) bool { return false }, nil, time.Time{}},
	} {
		ids, next := ReplayPage(rows, c.limit, c.match)
		if !slices.Equal(ids, c.ids) || !next.Equal(c.next) {
			t.Errorf("limit %d: %v, next %v; want %v, next %v", c.limit, ids, next, c.ids, c.next)
		}
	}
}
