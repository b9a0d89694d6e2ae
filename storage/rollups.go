package storage

import "time"

// LatencyBuckets are the upper bounds of the rollup latency histogram
// (h0..h9); h10 counts everything slower.
var LatencyBuckets = [...]time.Duration{
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second,
}

// HistColumns is how many histogram buckets a rollup has: one per
// LatencyBuckets bound and one for everything slower.
const HistColumns = len(LatencyBuckets) + 1

// RollupSettle: an hour is rolled up only when it ended this long ago, so
// checks still in flight (up to the probe timeout) and the result writer's
// batching have landed in its minutes.
const RollupSettle = 2 * time.Minute

// Rollup aggregates a target's results over a minute or an hour.
//
// Its latency (LatCount, LatMin, LatMax, LatSum and Hist) is that of the
// checks that got a response that counts: up or degraded, never down. A
// failed check's latency is the time it took to fail (a DNS error, a
// refused connection, a timeout), not a response time, so it never enters
// a percentile, a chart or a latency badge.
type Rollup struct {
	TargetID string
	Start    time.Time
	Count    int64 // every check
	Failures int64 // down
	Degraded int64
	LatCount int64 // checks whose latency is counted: up or degraded
	LatMin   time.Duration
	LatMax   time.Duration
	LatSum   time.Duration
	Hist     [HistColumns]int64
}

// Quantile returns the upper bound of the histogram bucket holding the q-th
// quantile (0 < q <= 1) of the response times, capped by the slowest; 0
// without any (LatCount 0: no data).
func (r Rollup) Quantile(q float64) time.Duration {
	if r.LatCount == 0 {
		return 0
	}
	rank := int64(q*float64(r.LatCount) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, n := range r.Hist {
		seen += n
		if seen >= rank {
			if i < len(LatencyBuckets) && LatencyBuckets[i] < r.LatMax {
				return LatencyBuckets[i]
			}
			return r.LatMax
		}
	}
	return r.LatMax
}

// Add returns the histogram of r and o together: counts and buckets
// summed, the larger maximum (what a latency quantile needs).
func (r Rollup) Add(o Rollup) Rollup {
	r.TargetID = o.TargetID
	r.Count += o.Count
	r.LatCount += o.LatCount
	r.LatMax = max(r.LatMax, o.LatMax)
	for i, n := range o.Hist {
		r.Hist[i] += n
	}
	return r
}

// Retention is how long each kind of data is kept.
type Retention struct {
	Raw    time.Duration // raw results (default 48h)
	Minute time.Duration // minute rollups (default 7 days)
	Hour   time.Duration // hour rollups (default 90 days)
}

// DayStat is one target's checks over one UTC day.
type DayStat struct {
	Target   string
	Day      time.Time
	Count    int64
	Failures int64
	Degraded int64
}

// ScanRollup reads one rollup row whose columns are, in order: bucket (unix
// seconds), count, failures, degraded, lat_count, lat_min_us, lat_max_us,
// lat_sum_us and the histogram buckets h0.. — the layout every backend's
// rollup tables share. scan is the row's Scan.
func ScanRollup(targetKey string, scan func(dest ...any) error) (Rollup, error) {
	r := Rollup{TargetID: targetKey}
	var bucket, minUS, maxUS, sumUS int64
	dest := []any{&bucket, &r.Count, &r.Failures, &r.Degraded, &r.LatCount, &minUS, &maxUS, &sumUS}
	for i := range r.Hist {
		dest = append(dest, &r.Hist[i])
	}
	if err := scan(dest...); err != nil {
		return r, err
	}
	r.Start = time.Unix(bucket, 0).UTC()
	r.LatMin, r.LatMax, r.LatSum = time.Duration(minUS)*time.Microsecond, time.Duration(maxUS)*time.Microsecond, time.Duration(sumUS)*time.Microsecond
	return r, nil
}

// ScanHistogram reads one row of a latency-histogram query: the target's
// key, the bucket's start (unix seconds), count, lat_count, lat_max_us and
// the histogram buckets h0.., in that order. Callers sum the rows of one
// key with Rollup.Add, or of one key and step with LatencySeries.
func ScanHistogram(scan func(dest ...any) error) (Rollup, error) {
	var r Rollup
	var bucket, maxUS int64
	dest := []any{&r.TargetID, &bucket, &r.Count, &r.LatCount, &maxUS}
	for i := range r.Hist {
		dest = append(dest, &r.Hist[i])
	}
	if err := scan(dest...); err != nil {
		return r, err
	}
	r.Start = time.Unix(bucket, 0).UTC()
	r.LatMax = time.Duration(maxUS) * time.Microsecond
	return r, nil
}
