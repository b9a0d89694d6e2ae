package storage

import (
	"fmt"
	"slices"
	"time"
)

// Series sums the latency histograms of a latency query into step-long
// buckets starting at from, per target: what a response-time chart draws.
// Rollup rows arrive in any order (hours and minutes together); a row
// belongs to the bucket its start falls in.
type Series struct {
	from time.Time
	step time.Duration
	sums map[string]map[int64]Rollup // key -> bucket index -> sum
}

// NewSeries checks that a series of step-long buckets from from can be
// read off the rollups: hour rollups cannot be split, so step must be a
// whole number of hours and from the start of an hour.
func NewSeries(from time.Time, step time.Duration) (*Series, error) {
	if step <= 0 || step%time.Hour != 0 {
		return nil, fmt.Errorf("latency series: step %s is not a whole number of hours", step)
	}
	if !from.Equal(from.Truncate(time.Hour)) {
		return nil, fmt.Errorf("latency series: from %s is not the start of an hour", from.UTC().Format(time.RFC3339))
	}
	return &Series{from: from.UTC(), step: step, sums: map[string]map[int64]Rollup{}}, nil
}

// Add counts a histogram row (see ScanHistogram) in its bucket. A row
// starting before from (LatencyHistograms rounds from down) counts in the
// first bucket.
func (s *Series) Add(r Rollup) {
	i := max(0, int64(r.Start.Sub(s.from)/s.step))
	m := s.sums[r.TargetID]
	if m == nil {
		m = map[int64]Rollup{}
		s.sums[r.TargetID] = m
	}
	sum := m[i].Add(r)
	sum.Start = s.from.Add(time.Duration(i) * s.step)
	m[i] = sum
}

// Result returns each key's buckets that have rows, oldest first (the
// backends read only rows with a response time); a bucket's Start is its
// own start, its Count, LatCount, LatMax and Hist the sums of
// its rows.
func (s *Series) Result() map[string][]Rollup {
	out := make(map[string][]Rollup, len(s.sums))
	for k, m := range s.sums {
		rs := make([]Rollup, 0, len(m))
		for _, r := range m {
			rs = append(rs, r)
		}
		slices.SortFunc(rs, func(a, b Rollup) int { return a.Start.Compare(b.Start) })
		out[k] = rs
	}
	return out
}

// SumSeries adds up the series of keys (as LatencySeries returns them),
// bucket by bucket: the latency of the keys taken together, as a host's
// chart draws it. total is every bucket together; buckets are oldest
// first, without the empty ones. A key listed twice counts once.
func SumSeries(byKey map[string][]Rollup, keys []string) (total Rollup, buckets []Rollup) {
	at := map[int64]int{} // bucket start -> index in buckets
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		for _, r := range byKey[k] {
			total = total.Add(r)
			i, ok := at[r.Start.Unix()]
			if !ok {
				i = len(buckets)
				at[r.Start.Unix()] = i
				buckets = append(buckets, Rollup{Start: r.Start})
			}
			b := buckets[i].Add(r)
			b.Start = r.Start
			buckets[i] = b
		}
	}
	slices.SortFunc(buckets, func(a, b Rollup) int { return a.Start.Compare(b.Start) })
	return total, buckets
}

// WholeWindow is a step that holds all of [from, to) in one bucket, for a
// latency query that wants a single histogram per key.
func WholeWindow(from, to time.Time) time.Duration {
	return to.Sub(from.Truncate(time.Hour)) + time.Hour
}
