package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LatencyBuckets are the upper bounds of the rollup latency histogram
// (h0..h9); h10 counts everything slower.
var LatencyBuckets = [...]time.Duration{
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second,
}

const histColumns = 11

// Rollup aggregates a target's results over a minute or an hour.
type Rollup struct {
	TargetID string
	Start    time.Time
	Count    int64
	Failures int64 // down
	Degraded int64
	LatMin   time.Duration
	LatMax   time.Duration
	LatSum   time.Duration
	Hist     [histColumns]int64
}

// Quantile returns the upper bound of the histogram bucket holding the q-th
// quantile (0 < q <= 1), capped by the observed maximum.
func (r Rollup) Quantile(q float64) time.Duration {
	if r.Count == 0 {
		return 0
	}
	rank := int64(q*float64(r.Count) + 0.5)
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

// rollupSettle: an hour is rolled up only when it ended this long ago, so
// checks still in flight (up to the probe timeout) and the result writer's
// batching have landed in its minutes.
const rollupSettle = 2 * time.Minute

func histSums() string {
	var b strings.Builder
	for i := 0; i < histColumns; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "SUM(h%d)", i)
	}
	return b.String()
}

func rollupUpsert() string {
	var b strings.Builder
	b.WriteString("ON CONFLICT (bucket, target_id) DO UPDATE SET count = excluded.count, failures = excluded.failures, degraded = excluded.degraded, lat_min_us = excluded.lat_min_us, lat_max_us = excluded.lat_max_us, lat_sum_us = excluded.lat_sum_us")
	for i := 0; i < histColumns; i++ {
		fmt.Fprintf(&b, ", h%d = excluded.h%d", i, i)
	}
	return b.String()
}

var hourRollupSQL = `INSERT INTO rollup_hour SELECT target_id, (bucket / 3600) * 3600 AS b, SUM(count),
		SUM(failures), SUM(degraded), MIN(lat_min_us), MAX(lat_max_us), SUM(lat_sum_us), ` + histSums() + `
		FROM rollup_minute WHERE bucket >= ? AND bucket < ? GROUP BY target_id, b ` + rollupUpsert()

// RollUp aggregates the minute rollups (written with the results) into hour
// rollups, for every hour that has settled since the last run. It is
// idempotent: an hour is recomputed whole, never incremented twice.
func (db *DB) RollUp(ctx context.Context) error {
	return db.update(ctx, func(tx *Tx) error {
		done, err := metaValue(ctx, tx, "rollup_hour_done") // unix seconds, exclusive
		if err != nil {
			return err
		}
		until := tx.now.Add(-rollupSettle).Truncate(time.Hour).Unix()
		if done == 0 {
			var first sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT MIN(bucket) FROM rollup_minute`).Scan(&first); err != nil {
				return fmt.Errorf("storage: first minute rollup: %w", err)
			}
			if !first.Valid {
				return nil
			}
			done = first.Int64 / 3600 * 3600
		}
		if until <= done {
			return nil
		}
		if _, err := tx.ExecContext(ctx, hourRollupSQL, done, until); err != nil {
			return fmt.Errorf("storage: hour rollup: %w", err)
		}
		return setMeta(ctx, tx, "rollup_hour_done", until)
	})
}

func metaValue(ctx context.Context, tx *Tx, key string) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("storage: read %s: %w", key, err)
	}
	return v, nil
}

func setMeta(ctx context.Context, tx *Tx, key string, v int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, v); err != nil {
		return fmt.Errorf("storage: write %s: %w", key, err)
	}
	return nil
}

// Rollups returns a target's rollups of the given period (time.Minute or
// time.Hour) starting in [from, to), oldest first.
func (db *DB) Rollups(ctx context.Context, targetKey string, period time.Duration, from, to time.Time) ([]Rollup, error) {
	table := "rollup_minute"
	if period == time.Hour {
		table = "rollup_hour"
	} else if period != time.Minute {
		return nil, fmt.Errorf("storage: rollup period must be a minute or an hour, not %s", period)
	}
	cols := "r.bucket, r.count, r.failures, r.degraded, r.lat_min_us, r.lat_max_us, r.lat_sum_us"
	for i := 0; i < histColumns; i++ {
		cols += fmt.Sprintf(", r.h%d", i)
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT `+cols+` FROM `+table+` r JOIN targets t ON t.id = r.target_id
		WHERE t.key = ? AND r.bucket >= ? AND r.bucket < ? ORDER BY r.bucket`, targetKey, from.Unix(), to.Unix())
	if err != nil {
		return nil, fmt.Errorf("storage: query rollups: %w", err)
	}
	defer rows.Close()
	var out []Rollup
	for rows.Next() {
		r := Rollup{TargetID: targetKey}
		var bucket, minUS, maxUS, sumUS int64
		dest := []any{&bucket, &r.Count, &r.Failures, &r.Degraded, &minUS, &maxUS, &sumUS}
		for i := range r.Hist {
			dest = append(dest, &r.Hist[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("storage: scan rollup: %w", err)
		}
		r.Start = time.Unix(bucket, 0).UTC()
		r.LatMin, r.LatMax, r.LatSum = time.Duration(minUS)*time.Microsecond, time.Duration(maxUS)*time.Microsecond, time.Duration(sumUS)*time.Microsecond
		out = append(out, r)
	}
	return out, rows.Err()
}

// Retention is how long each kind of data is kept.
type Retention struct {
	Raw    time.Duration // raw results (default 48h)
	Minute time.Duration // minute rollups (default 7 days)
	Hour   time.Duration // hour rollups (default 90 days)
}

// deleteChunk bounds how long one delete holds the write lock.
const deleteChunk = 5000

// Prune deletes data older than the retention windows, in small
// transactions so the prober's writes are never held up for long. Incident
// evidence lives in the incident tables and is not touched. It returns how
// many rows it deleted.
func (db *DB) Prune(ctx context.Context, keep Retention) (int64, error) {
	now := db.Now()
	jobs := []struct {
		query  string
		cutoff int64
	}{
		{`DELETE FROM results WHERE rowid IN (SELECT rowid FROM results WHERE started_at < ? LIMIT ` + fmt.Sprint(deleteChunk) + `)`, now.Add(-keep.Raw).UnixMilli()},
		{`DELETE FROM rollup_minute WHERE (target_id, bucket) IN (SELECT target_id, bucket FROM rollup_minute WHERE bucket < ? LIMIT ` + fmt.Sprint(deleteChunk) + `)`, now.Add(-keep.Minute).Unix()},
		{`DELETE FROM rollup_hour WHERE (target_id, bucket) IN (SELECT target_id, bucket FROM rollup_hour WHERE bucket < ? LIMIT ` + fmt.Sprint(deleteChunk) + `)`, now.Add(-keep.Hour).Unix()},
	}
	var total int64
	for _, j := range jobs {
		for {
			var n int64
			err := db.update(ctx, func(tx *Tx) error {
				res, err := tx.ExecContext(ctx, j.query, j.cutoff)
				if err != nil {
					return fmt.Errorf("storage: prune: %w", err)
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, err
			}
			total += n
			if n < deleteChunk {
				break
			}
		}
	}
	return total, nil
}

// LatencyHistograms returns each of the targets' latency over [from, to),
// as one Rollup (count, maximum and histogram) per target key: the settled
// hour rollups where there are some, the minute rollups for the rest. from
// is rounded down to its hour. Every bucket is read by its key (target,
// start), so the cost follows the targets asked, not the fleet.
func (db *DB) LatencyHistograms(ctx context.Context, keys []string, from, to time.Time) (map[string]Rollup, error) {
	out := map[string]Rollup{}
	if len(keys) == 0 || !to.After(from) {
		return out, nil
	}
	var done sql.NullInt64
	err := db.reader.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'rollup_hour_done'`).Scan(&done)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("storage: read rollup watermark: %w", err)
	}
	start, end := from.Truncate(time.Hour).Unix(), to.Unix()
	hoursEnd := min(max(done.Int64, start), end/3600*3600)
	var hours, minutes []string
	for b := start; b < hoursEnd; b += 3600 {
		hours = append(hours, strconv.FormatInt(b, 10))
	}
	for b := hoursEnd; b < end; b += 60 {
		minutes = append(minutes, strconv.FormatInt(b, 10))
	}
	cols := "t.key, r.count, r.lat_max_us"
	for i := 0; i < histColumns; i++ {
		cols += fmt.Sprintf(", r.h%d", i)
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
	var parts []string
	var args []any
	for table, buckets := range map[string][]string{"rollup_hour": hours, "rollup_minute": minutes} {
		if len(buckets) == 0 {
			continue
		}
		// The bucket lists are integers made here, not input.
		parts = append(parts, `SELECT `+cols+` FROM `+table+` r JOIN targets t ON t.id = r.target_id
			WHERE t.key IN (`+marks+`) AND r.bucket IN (`+strings.Join(buckets, ", ")+`)`)
		for _, k := range keys {
			args = append(args, k)
		}
	}
	if len(parts) == 0 {
		return out, nil
	}
	rows, err := db.reader.QueryContext(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return nil, fmt.Errorf("storage: query latency histograms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key   string
			r     Rollup
			maxUS int64
		)
		dest := []any{&key, &r.Count, &maxUS}
		for i := range r.Hist {
			dest = append(dest, &r.Hist[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("storage: scan latency histogram: %w", err)
		}
		acc := out[key]
		acc.TargetID = key
		acc.Count += r.Count
		acc.LatMax = max(acc.LatMax, time.Duration(maxUS)*time.Microsecond)
		for i, n := range r.Hist {
			acc.Hist[i] += n
		}
		out[key] = acc
	}
	return out, rows.Err()
}
