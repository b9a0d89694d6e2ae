package storage

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"linkwatch"
)

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

// histList is format for each histogram column, %d its number.
func histList(format string) []string {
	out := make([]string, HistColumns)
	for i := range out {
		out[i] = strings.ReplaceAll(format, "%d", strconv.Itoa(i))
	}
	return out
}

// rollupColumns are a rollup row's columns as scanRollup reads them.
var rollupColumns = "bucket, count, failures, degraded, lat_count, lat_min_us, lat_max_us, lat_sum_us, " + strings.Join(histList("h%d"), ", ")

// scanRollup reads a row of rollupColumns.
func scanRollup(targetKey string, row scanner) (Rollup, error) {
	r := Rollup{TargetID: targetKey}
	var bucket, minUS, maxUS, sumUS int64
	dest := []any{&bucket, &r.Count, &r.Failures, &r.Degraded, &r.LatCount, &minUS, &maxUS, &sumUS}
	for i := range r.Hist {
		dest = append(dest, &r.Hist[i])
	}
	err := row.Scan(dest...)
	r.Start = time.Unix(bucket, 0).UTC()
	r.LatMin, r.LatMax, r.LatSum = time.Duration(minUS)*time.Microsecond, time.Duration(maxUS)*time.Microsecond, time.Duration(sumUS)*time.Microsecond
	return r, err
}

// hourRollup recomputes the hours of [$1, $2) whole from their minutes.
// The minimum response time is over the minutes that have one.
var hourRollup = `INSERT INTO rollup_hour (target_id, ` + rollupColumns + `)
	SELECT target_id, (bucket / 3600) * 3600 AS b, SUM(count), SUM(failures), SUM(degraded), SUM(lat_count),
		COALESCE(MIN(CASE WHEN lat_count > 0 THEN lat_min_us END), 0), MAX(lat_max_us), SUM(lat_sum_us), ` + strings.Join(histList("SUM(h%d)"), ", ") + `
	FROM rollup_minute WHERE bucket >= $1 AND bucket < $2 GROUP BY b, target_id ORDER BY b, target_id
	ON CONFLICT (bucket, target_id) DO UPDATE SET count = excluded.count, failures = excluded.failures, degraded = excluded.degraded,
		lat_count = excluded.lat_count, lat_min_us = excluded.lat_min_us, lat_max_us = excluded.lat_max_us, lat_sum_us = excluded.lat_sum_us, ` +
	strings.Join(histList("h%d = excluded.h%d"), ", ")

// RollUp aggregates the minute rollups (written with the results) into hour
// rollups, for every hour that has settled since the last run, and packs
// those hours' minutes (packHours). An hour is rolled up once: its
// watermark moves in the same transaction. Replicas running it at once
// take turns.
func (db *DB) RollUp(ctx context.Context) error {
	return db.update(ctx, "hour rollup", func(tx *Tx) error {
		if err := db.d.LockTx(ctx, tx, LockRollup); err != nil {
			return err
		}
		var done sql.NullInt64 // unix seconds, exclusive: the watermark, or the first minute's hour
		if err := tx.row(ctx, `SELECT COALESCE((SELECT value FROM meta WHERE key = 'rollup_hour_done'), MIN(bucket) / 3600 * 3600) FROM rollup_minute`).Scan(&done); err != nil || !done.Valid {
			return err
		}
		until := tx.now.Add(-RollupSettle).Truncate(time.Hour).Unix()
		if until <= done.Int64 {
			return nil
		}
		tx.Exec(ctx, hourRollup, done.Int64, until)
		if err := tx.Err(); err != nil {
			return err
		}
		if err := db.packHours(ctx, tx, done.Int64, until); err != nil {
			return err
		}
		tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rollup_hour_done', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, until)
		return nil
	})
}

// Rollups returns a target's rollups of the given period (time.Minute or
// time.Hour) starting in [from, to), oldest first: minutes from their
// rows and from their hours' packed rows, one rollup per minute.
func (db *DB) Rollups(ctx context.Context, targetKey string, period time.Duration, from, to time.Time) ([]Rollup, error) {
	table := map[time.Duration]string{time.Minute: "rollup_minute", time.Hour: "rollup_hour"}[period]
	if table == "" {
		return nil, fmt.Errorf("%s: rollup period must be a minute or an hour, not %s", db.d.Name(), period)
	}
	rs, err := read(ctx, db, "rollups", `SELECT `+rollupColumns+` FROM `+table+` WHERE target_id = (SELECT id FROM targets WHERE key = $1)
		AND bucket >= $2 AND bucket < $3 ORDER BY bucket`, []any{targetKey, from.Unix(), to.Unix()},
		func(row scanner) (Rollup, error) { return scanRollup(targetKey, row) })
	if err != nil || period != time.Minute {
		return rs, err
	}
	lo, hi := from.Unix(), to.Unix()
	err = db.packedMinutes(ctx, `t.key = $1 AND p.bucket >= $2 AND p.bucket < $3`, []any{targetKey, floor(lo, 3600), hi},
		func(m int64) bool { return m >= lo && m < hi }, func(r Rollup) { rs = append(rs, r) })
	return byMinute(rs), db.wrap("packed minute rollups", err)
}

// Prune deletes data older than the retention windows, in transactions of
// at most 5,000 rows each, so the prober's writes are never held up for
// long. Incident evidence lives in the incident tables and is not touched.
// Rollups go a whole UTC day at a time, once the day is past their window
// (they are kept at least that long, and at most a day longer), so a
// database that keeps them a day to a table drops the table (see
// Dialect.DropRollups). It returns how many rows it deleted.
func (db *DB) Prune(ctx context.Context, keep Retention) (int64, error) {
	now := db.Now()
	day := func(keep time.Duration) int64 { return now.Add(-keep).UTC().Truncate(24 * time.Hour).Unix() }
	jobs := []struct {
		table  string // a rollup table, for DropRollups
		query  string
		cutoff int64
	}{
		{"", db.d.PruneResults(), now.Add(-keep.Raw).UnixMilli()},
		// Time first: the oldest rows are a prefix of the primary key.
		{"rollup_minute", `DELETE FROM rollup_minute WHERE (bucket, target_id) IN (SELECT bucket, target_id FROM rollup_minute WHERE bucket < $1 ORDER BY bucket LIMIT 5000)`, day(keep.Minute)},
		{"rollup_minute_packed", `DELETE FROM rollup_minute_packed WHERE (bucket, target_id) IN (SELECT bucket, target_id FROM rollup_minute_packed WHERE bucket < $1 ORDER BY bucket LIMIT 5000)`, day(keep.Minute)},
		{"rollup_hour", `DELETE FROM rollup_hour WHERE (bucket, target_id) IN (SELECT bucket, target_id FROM rollup_hour WHERE bucket < $1 ORDER BY bucket LIMIT 5000)`, day(keep.Hour)},
	}
	var total int64
	for _, j := range jobs {
		if j.table != "" {
			var n int64
			err := db.update(ctx, "prune", func(tx *Tx) error {
				n = db.d.DropRollups(ctx, tx, j.table, j.cutoff, now.Unix())
				return nil
			})
			if err != nil {
				return total, err
			}
			total += n
		}
		for {
			var n int64
			err := db.update(ctx, "prune", func(tx *Tx) error {
				n = tx.Exec(ctx, j.query, j.cutoff)
				return nil
			})
			total += n
			if err != nil {
				return total, err
			}
			if n < 5000 {
				break
			}
		}
	}
	return total, nil
}

// LatencyHistograms returns each of the targets' response times over
// [from, to), as one Rollup (counts, maximum and histogram) per target
// key: the settled hour rollups where there are some, the minute rollups
// for the rest, none of the checks of the unknown spans (Reads). from is
// rounded down to its hour. A target without a response time in the
// window is absent.
func (db *DB) LatencyHistograms(ctx context.Context, keys []string, from, to time.Time, unknown []linkwatch.Span) (map[string]Rollup, error) {
	out := map[string]Rollup{}
	err := db.histogramRows(ctx, keys, from, to, WholeWindow(from, to), unknown, func(r Rollup) { out[r.TargetID] = out[r.TargetID].Add(r) })
	return out, err
}

// LatencySeries returns each of the targets' response times over [from,
// to) in step-long buckets from from (see Series), read as
// LatencyHistograms reads: rollups only, by key.
func (db *DB) LatencySeries(ctx context.Context, keys []string, from, to time.Time, step time.Duration, unknown []linkwatch.Span) (map[string][]Rollup, error) {
	s, err := NewSeries(from, step)
	if err != nil {
		return nil, err
	}
	if err := db.histogramRows(ctx, keys, from, to, step, unknown, s.Add); err != nil {
		return nil, err
	}
	return s.Result(), nil
}

// plan plans a read of [from, to) (PlanReads) on the watermarks it reads:
// the end of the hours rolled up and, when some checks are unknown, the
// oldest minute rollup kept.
func (db *DB) plan(ctx context.Context, from, to time.Time, unknown []linkwatch.Span) (Reads, error) {
	var done, kept int64
	err := db.read.row(ctx, `SELECT COALESCE((SELECT value FROM meta WHERE key = 'rollup_hour_done'), 0),
		CASE WHEN $1 THEN COALESCE((SELECT MIN(b) FROM (SELECT MIN(bucket) AS b FROM rollup_minute
			UNION ALL SELECT MIN(bucket) FROM rollup_minute_packed) AS m), 0) ELSE 0 END`, len(unknown) > 0).Scan(&done, &kept)
	return PlanReads(done, kept, from, to, unknown), db.wrap("read the rollup watermarks", err)
}

// SettledHours returns the hours whose hour rollups no write changes any
// more: those starting after after and ending by until (both on the hour;
// an empty range, after == until, without any). RollUp writes an hour's
// rollups once, in the transaction that moves the watermark (until) past
// it, and never again (a minute written later stays in rollup_minute);
// afterwards only Prune deletes them, oldest first: a whole day at a time
// (PostgreSQL drops its partition) or 5,000 rows at a time, so the oldest
// hour kept (after) may have lost some of its rows, and no later one has;
// no hour rollup starts before after, and none ever will. A reader may
// keep what it read of these hours for as long as they stay in the range.
func (db *DB) SettledHours(ctx context.Context) (after, until time.Time, err error) {
	var done int64
	var oldest sql.NullInt64
	err = db.read.row(ctx, `SELECT COALESCE((SELECT value FROM meta WHERE key = 'rollup_hour_done'), 0),
		(SELECT MIN(bucket) FROM rollup_hour)`).Scan(&done, &oldest)
	if err != nil {
		return time.Time{}, time.Time{}, db.wrap("read the settled hours", err)
	}
	first := done // no hour rollup kept: none settled
	if oldest.Valid {
		first = min(oldest.Int64, done)
	}
	return time.Unix(first, 0).UTC(), time.Unix(done, 0).UTC(), nil
}

// histogramRows calls add with the histogram of each key and step-long
// bucket from from, summed from the hour and minute rollups PlanReads
// chooses for [from, to) (in the database; the minutes of rolled-up hours
// are unpacked and added here): one call per bucket with a response time,
// however many rollups it holds. Every bucket is read by its key, so the
// cost follows the targets asked. A rollup starting before
// from (from rounded down to its hour) counts in the first bucket.
func (db *DB) histogramRows(ctx context.Context, keys []string, from, to time.Time, step time.Duration, unknown []linkwatch.Span, add func(Rollup)) error {
	if len(keys) == 0 || !to.After(from) {
		return nil
	}
	reads, err := db.plan(ctx, from, to, unknown)
	if err != nil {
		return err
	}
	hours, minutes := reads.Buckets()
	f, n := from.Unix(), int64(step/time.Second)
	bucket := func(start int64) int64 { return max(f, f+(start-f)/n*n) }
	type at struct {
		key    string
		bucket int64
	}
	sums := map[at]Rollup{}
	cols := "t.key, r.bucket, r.count, r.lat_count, r.lat_max_us, " + strings.Join(histList("r.h%d"), ", ")
	err = each(ctx, db.read, `SELECT key, CASE WHEN bucket < $4 THEN $4 ELSE $4 + (bucket - $4) / $5 * $5 END AS b,
			SUM(count), SUM(lat_count), MAX(lat_max_us), `+strings.Join(histList("SUM(h%d)"), ", ")+`
		FROM (SELECT `+cols+` FROM rollup_hour r JOIN targets t ON t.id = r.target_id WHERE t.key = ANY($1) AND r.bucket = ANY($2)
			UNION ALL
			SELECT `+cols+` FROM rollup_minute r JOIN targets t ON t.id = r.target_id WHERE t.key = ANY($1) AND r.bucket = ANY($3)) AS hist
		GROUP BY key, b`, []any{keys, nonNil(hours), nonNil(minutes), f, n},
		func(row scanner) error {
			var r Rollup
			var b, maxUS int64
			dest := []any{&r.TargetID, &b, &r.Count, &r.LatCount, &maxUS}
			for i := range r.Hist {
				dest = append(dest, &r.Hist[i])
			}
			err := row.Scan(dest...)
			r.LatMax = time.Duration(maxUS) * time.Microsecond
			sums[at{r.TargetID, b}] = r
			return err
		})
	if packed := reads.packedHours(); err == nil && len(packed) > 0 {
		want := make(map[int64]bool, len(minutes))
		for _, m := range minutes {
			want[m] = true
		}
		err = db.packedMinutes(ctx, `t.key = ANY($1) AND p.bucket = ANY($2)`, []any{keys, packed}, func(m int64) bool { return want[m] },
			func(r Rollup) {
				k := at{r.TargetID, bucket(r.Start.Unix())}
				sums[k] = sums[k].Add(r)
			})
	}
	for k, r := range sums {
		if r.LatCount > 0 {
			r.Start = time.Unix(k.bucket, 0).UTC()
			add(r)
		}
	}
	return db.wrap("latency histograms", err)
}

// DailyStats returns per-target daily totals over [from, to), read from
// the rollups PlanReads chooses (hours already rolled up, minutes for the
// rest, none of the checks of the unknown spans), never from raw results:
// the cost does not grow with history. Rolled-up hours' minutes are read
// packed (only where an unknown span or the window's end cuts such an
// hour) and added here.
func (db *DB) DailyStats(ctx context.Context, from, to time.Time, unknown []linkwatch.Span) ([]DayStat, error) {
	reads, err := db.plan(ctx, from, to, unknown)
	if err != nil {
		return nil, err
	}
	type at struct {
		key string
		day int64
	}
	sums := map[at]DayStat{}
	err = each(ctx, db.read, `SELECT t.key, (a.bucket / 86400) * 86400 AS day, SUM(a.count), SUM(a.failures), SUM(a.degraded)
		FROM (SELECT target_id, bucket, count, failures, degraded FROM rollup_hour WHERE bucket >= $1 AND bucket < $2 AND bucket <> ALL($3)
			UNION ALL
			SELECT target_id, bucket, count, failures, degraded FROM rollup_minute WHERE bucket >= $4 AND bucket < $5 AND bucket <> ALL($6)
			UNION ALL
			SELECT target_id, bucket, count, failures, degraded FROM rollup_minute WHERE bucket = ANY($7)) AS a
		JOIN targets t ON t.id = a.target_id GROUP BY t.key, day`,
		[]any{reads.HoursFrom, reads.HoursTo, nonNil(reads.SkipHours), reads.MinutesFrom, reads.MinutesTo, nonNil(reads.SkipMinutes), nonNil(reads.MoreMinutes)},
		func(row scanner) error {
			var st DayStat
			var day int64
			err := row.Scan(&st.Target, &day, &st.Count, &st.Failures, &st.Degraded)
			st.Day = time.Unix(day, 0).UTC()
			sums[at{st.Target, day}] = st
			return err
		})
	if packed := reads.packedHours(); err == nil && len(packed) > 0 {
		err = db.packedMinutes(ctx, `p.bucket = ANY($1)`, []any{packed}, reads.countsMinute, func(r Rollup) {
			k := at{r.TargetID, floor(r.Start.Unix(), 86400)}
			st := sums[k]
			st.Target, st.Day = k.key, time.Unix(k.day, 0).UTC()
			st.Count, st.Failures, st.Degraded = st.Count+r.Count, st.Failures+r.Failures, st.Degraded+r.Degraded
			sums[k] = st
		})
	}
	if err != nil {
		return nil, db.wrap("daily stats", err)
	}
	out := slices.SortedFunc(maps.Values(sums), func(a, b DayStat) int {
		return cmp.Or(strings.Compare(a.Target, b.Target), a.Day.Compare(b.Day))
	})
	return out, nil
}
