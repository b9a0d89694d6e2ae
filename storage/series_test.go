package storage

import (
	"testing"
	"time"
)

func TestSumSeriesAddsBucketsOfEachKeyOnce(t *testing.T) {
	h := func(n int) time.Time { return time.Date(2026, 11, 22, n, 0, 0, 0, time.UTC) }
	r := func(start time.Time, count int64, max time.Duration, bucket int) Rollup {
		x := Rollup{Start: start, Count: count, LatMax: max}
		x.Hist[bucket] = count
		return x
	}
	byKey := map[string][]Rollup{
		"a": {r(h(10), 2, 20*time.Millisecond, 1), r(h(12), 1, 30*time.Millisecond, 2)},
		"b": {r(h(11), 3, 2*time.Second, 7), r(h(12), 4, 90*time.Millisecond, 3)},
		"c": {r(h(10), 100, time.Second, 6)}, // not asked
	}
	total, buckets := SumSeries(byKey, []string{"b", "a", "missing", "a"})
	if total.Count != 10 || total.LatMax != 2*time.Second {
		t.Errorf("total: %d checks, max %s; want 10 and 2s", total.Count, total.LatMax)
	}
	want := []struct {
		start time.Time
		count int64
		max   time.Duration
	}{{h(10), 2, 20 * time.Millisecond}, {h(11), 3, 2 * time.Second}, {h(12), 5, 90 * time.Millisecond}}
	if len(buckets) != len(want) {
		t.Fatalf("buckets %+v, want %d", buckets, len(want))
	}
	for i, w := range want {
		if b := buckets[i]; !b.Start.Equal(w.start) || b.Count != w.count || b.LatMax != w.max {
			t.Errorf("bucket %d = %s %d %s, want %s %d %s", i, b.Start.Format("15:04"), b.Count, b.LatMax, w.start.Format("15:04"), w.count, w.max)
		}
	}
	if total, buckets := SumSeries(byKey, nil); total.Count != 0 || len(buckets) != 0 {
		t.Errorf("no keys: %+v %+v", total, buckets)
	}
}
