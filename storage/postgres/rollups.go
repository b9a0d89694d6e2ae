package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage"
)

func histList(format string) string {
	parts := make([]string, storage.HistColumns)
	for i := range parts {
		parts[i] = strings.ReplaceAll(format, "%d", fmt.Sprint(i))
	}
	return strings.Join(parts, ", ")
}

// hourRollupSQL recomputes the hours of [$1, $2) whole from their minutes.
// The minimum response time is over the minutes that have one.
var hourRollupSQL = `INSERT INTO rollup_hour (bucket, target_id, count, failures, degraded, lat_count, lat_min_us, lat_max_us, lat_sum_us, ` + histList("h%d") + `)
	SELECT (bucket / 3600) * 3600 AS b, target_id, SUM(count), SUM(failures), SUM(degraded), SUM(lat_count),
		COALESCE(MIN(lat_min_us) FILTER (WHERE lat_count > 0), 0), MAX(lat_max_us), SUM(lat_sum_us), ` + histList("SUM(h%d)") + `
	FROM rollup_minute WHERE bucket >= $1 AND bucket < $2 GROUP BY b, target_id ORDER BY b, target_id
	ON CONFLICT (bucket, target_id) DO UPDATE SET count = excluded.count, failures = excluded.failures, degraded = excluded.degraded,
		lat_count = excluded.lat_count, lat_min_us = excluded.lat_min_us, lat_max_us = excluded.lat_max_us, lat_sum_us = excluded.lat_sum_us, ` +
	histList("h%d = excluded.h%d")

// RollUp aggregates the minute rollups (written with the results) into hour
// rollups, for every hour that has settled since the last run. It is
// idempotent (an hour is recomputed whole), and replicas running it at
// once take turns under an advisory lock.
func (db *DB) RollUp(ctx context.Context) error {
	return db.update(ctx, func(tx *Tx) error {
		if err := tx.lock(ctx, lockRollup); err != nil {
			return err
		}
		done, err := metaValue(ctx, tx, "rollup_hour_done") // unix seconds, exclusive
		if err != nil {
			return err
		}
		until := tx.now.Add(-storage.RollupSettle).Truncate(time.Hour).Unix()
		if done == 0 {
			var first *int64
			if err := tx.QueryRow(ctx, `SELECT MIN(bucket) FROM rollup_minute`).Scan(&first); err != nil {
				return fmt.Errorf("postgres: first minute rollup: %w", err)
			}
			if first == nil {
				return nil
			}
			done = *first / 3600 * 3600
		}
		if until <= done {
			return nil
		}
		if _, err := tx.Exec(ctx, hourRollupSQL, done, until); err != nil {
			return fmt.Errorf("postgres: hour rollup: %w", err)
		}
		return setMeta(ctx, tx, "rollup_hour_done", until)
	})
}

func metaValue(ctx context.Context, tx *Tx, key string) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, `SELECT value FROM meta WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("postgres: read %s: %w", key, err)
	}
	return v, nil
}

func setMeta(ctx context.Context, tx *Tx, key string, v int64) error {
	if _, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, v); err != nil {
		return fmt.Errorf("postgres: write %s: %w", key, err)
	}
	return nil
}

// Rollups returns a target's rollups of the given period (time.Minute or
// time.Hour) starting in [from, to), oldest first.
func (db *DB) Rollups(ctx context.Context, targetKey string, period time.Duration, from, to time.Time) ([]storage.Rollup, error) {
	table := "rollup_minute"
	if period == time.Hour {
		table = "rollup_hour"
	} else if period != time.Minute {
		return nil, fmt.Errorf("postgres: rollup period must be a minute or an hour, not %s", period)
	}
	rows, err := db.pool.Query(ctx, `SELECT r.bucket, r.count, r.failures, r.degraded, r.lat_count, r.lat_min_us, r.lat_max_us, r.lat_sum_us, `+histList("r.h%d")+`
		FROM `+table+` r JOIN targets t ON t.id = r.target_id
		WHERE t.key = $1 AND r.bucket >= $2 AND r.bucket < $3 ORDER BY r.bucket`, targetKey, from.Unix(), to.Unix())
	if err != nil {
		return nil, fmt.Errorf("postgres: query rollups: %w", err)
	}
	defer rows.Close()
	var out []storage.Rollup
	for rows.Next() {
		r, err := storage.ScanRollup(targetKey, rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("postgres: scan rollup: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// deleteChunk bounds how many rows one prune transaction deletes, so it
// holds its locks and WAL briefly.
const deleteChunk = 5000

// Prune deletes data older than the retention windows, in small
// transactions. Incident evidence lives in the incident tables and is not
// touched. It returns how many rows it deleted.
func (db *DB) Prune(ctx context.Context, keep storage.Retention) (int64, error) {
	now := db.Now()
	chunk := fmt.Sprint(deleteChunk)
	jobs := []struct {
		query  string
		cutoff int64
	}{
		{`DELETE FROM results WHERE ctid = ANY (ARRAY(SELECT ctid FROM results WHERE started_at < $1 LIMIT ` + chunk + `))`, now.Add(-keep.Raw).UnixMilli()},
		// Keyed time first: the oldest rows are a prefix of the primary key.
		{`DELETE FROM rollup_minute WHERE (bucket, target_id) IN (SELECT bucket, target_id FROM rollup_minute WHERE bucket < $1 ORDER BY bucket LIMIT ` + chunk + `)`, now.Add(-keep.Minute).Unix()},
		{`DELETE FROM rollup_hour WHERE (bucket, target_id) IN (SELECT bucket, target_id FROM rollup_hour WHERE bucket < $1 ORDER BY bucket LIMIT ` + chunk + `)`, now.Add(-keep.Hour).Unix()},
	}
	var total int64
	for _, j := range jobs {
		for {
			var n int64
			err := db.update(ctx, func(tx *Tx) error {
				tag, err := tx.Exec(ctx, j.query, j.cutoff)
				if err != nil {
					return fmt.Errorf("postgres: prune: %w", err)
				}
				n = tag.RowsAffected()
				return nil
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

// LatencyHistograms returns each of the targets' response times over
// [from, to), as one Rollup (counts, maximum and histogram) per target
// key: the settled hour rollups where there are some, the minute rollups
// for the rest, none of the checks of the unknown spans (storage.Reads).
// A target without a response time in the window is absent. Every bucket
// is read by its key, so the cost follows the targets asked.
func (db *DB) LatencyHistograms(ctx context.Context, keys []string, from, to time.Time, unknown []linkwatch.Span) (map[string]storage.Rollup, error) {
	out := map[string]storage.Rollup{}
	err := db.histogramRows(ctx, keys, from, to, storage.WholeWindow(from, to), unknown, func(r storage.Rollup) { out[r.TargetID] = out[r.TargetID].Add(r) })
	return out, err
}

// LatencySeries returns each of the targets' response times over [from,
// to) in step-long buckets from from (see storage.Series), read as
// LatencyHistograms reads: rollups only, by key.
func (db *DB) LatencySeries(ctx context.Context, keys []string, from, to time.Time, step time.Duration, unknown []linkwatch.Span) (map[string][]storage.Rollup, error) {
	s, err := storage.NewSeries(from, step)
	if err != nil {
		return nil, err
	}
	if err := db.histogramRows(ctx, keys, from, to, step, unknown, s.Add); err != nil {
		return nil, err
	}
	return s.Result(), nil
}

// plan plans a read of [from, to) (storage.PlanReads) on the watermarks it
// reads: the end of the hours rolled up and, when some checks are unknown,
// the oldest minute rollup kept.
func (db *DB) plan(ctx context.Context, from, to time.Time, unknown []linkwatch.Span) (storage.Reads, error) {
	var done, kept int64
	if err := db.pool.QueryRow(ctx, `SELECT COALESCE((SELECT value FROM meta WHERE key = 'rollup_hour_done'), 0)`).Scan(&done); err != nil {
		return storage.Reads{}, fmt.Errorf("postgres: read rollup watermark: %w", err)
	}
	if len(unknown) > 0 {
		if err := db.pool.QueryRow(ctx, `SELECT COALESCE(MIN(bucket), 0) FROM rollup_minute`).Scan(&kept); err != nil {
			return storage.Reads{}, fmt.Errorf("postgres: read the oldest minute rollup: %w", err)
		}
	}
	return storage.PlanReads(done, kept, from, to, unknown), nil
}

// histogramRows calls add with the histogram of each key and step-long
// bucket from from, summed in the database from the hour and minute
// rollups storage.PlanReads chooses for [from, to): one row per bucket
// with a response time, however many rollups it holds. A rollup starting
// before from (from rounded down to its hour) counts in the first bucket.
func (db *DB) histogramRows(ctx context.Context, keys []string, from, to time.Time, step time.Duration, unknown []linkwatch.Span, add func(storage.Rollup)) error {
	if len(keys) == 0 || !to.After(from) {
		return nil
	}
	reads, err := db.plan(ctx, from, to, unknown)
	if err != nil {
		return err
	}
	hours, minutes := reads.Buckets()
	cols := "t.key, r.bucket, r.count, r.lat_count, r.lat_max_us, " + histList("r.h%d")
	rows, err := db.pool.Query(ctx, `SELECT key, $4 + GREATEST(0, (bucket - $4) / $5) * $5 AS b, SUM(count)::bigint, SUM(lat_count)::bigint, MAX(lat_max_us), `+histList("SUM(h%d)::bigint")+`
		FROM (SELECT `+cols+` FROM rollup_hour r JOIN targets t ON t.id = r.target_id
				WHERE t.key = ANY($1) AND r.bucket = ANY($2)
			UNION ALL
			SELECT `+cols+` FROM rollup_minute r JOIN targets t ON t.id = r.target_id
				WHERE t.key = ANY($1) AND r.bucket = ANY($3)) AS hist
		GROUP BY key, b HAVING SUM(lat_count) > 0`, keys, nonNil(hours), nonNil(minutes), from.Unix(), int64(step/time.Second))
	if err != nil {
		return fmt.Errorf("postgres: query latency histograms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := storage.ScanHistogram(rows.Scan)
		if err != nil {
			return fmt.Errorf("postgres: scan latency histogram: %w", err)
		}
		add(r)
	}
	return rows.Err()
}

// DailyStats returns per-target daily totals over [from, to), read from
// the rollups storage.PlanReads chooses (hours already rolled up, minutes
// for the rest, none of the checks of the unknown spans), never from raw
// results: the cost does not grow with history.
func (db *DB) DailyStats(ctx context.Context, from, to time.Time, unknown []linkwatch.Span) ([]storage.DayStat, error) {
	reads, err := db.plan(ctx, from, to, unknown)
	if err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `
		WITH all_rows AS (
			SELECT target_id, bucket, count, failures, degraded FROM rollup_hour
				WHERE bucket >= $1 AND bucket < $2 AND bucket <> ALL($3)
			UNION ALL
			SELECT target_id, bucket, count, failures, degraded FROM rollup_minute
				WHERE bucket >= $4 AND bucket < $5 AND bucket <> ALL($6)
			UNION ALL
			SELECT target_id, bucket, count, failures, degraded FROM rollup_minute WHERE bucket = ANY($7)
		)
		SELECT t.key, (a.bucket / 86400) * 86400 AS day, SUM(a.count)::bigint, SUM(a.failures)::bigint, SUM(a.degraded)::bigint
		FROM all_rows a JOIN targets t ON t.id = a.target_id
		GROUP BY t.key, day ORDER BY t.key, day`,
		reads.HoursFrom, reads.HoursTo, nonNil(reads.SkipHours), reads.MinutesFrom, reads.MinutesTo, nonNil(reads.SkipMinutes), nonNil(reads.MoreMinutes))
	if err != nil {
		return nil, fmt.Errorf("postgres: daily stats: %w", err)
	}
	defer rows.Close()
	var out []storage.DayStat
	for rows.Next() {
		var s storage.DayStat
		var day int64
		if err := rows.Scan(&s.Target, &day, &s.Count, &s.Failures, &s.Degraded); err != nil {
			return nil, fmt.Errorf("postgres: scan daily stats: %w", err)
		}
		s.Day = time.Unix(day, 0).UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}
