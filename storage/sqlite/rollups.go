package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

func histList(format string) string {
	parts := make([]string, storage.HistColumns)
	for i := range parts {
		parts[i] = strings.ReplaceAll(format, "%d", strconv.Itoa(i))
	}
	return strings.Join(parts, ", ")
}

// hourRollupSQL recomputes the hours of [?, ?) whole from their minutes.
// The minimum response time is over the minutes that have one.
var hourRollupSQL = `INSERT INTO rollup_hour (target_id, bucket, count, failures, degraded, lat_count, lat_min_us, lat_max_us, lat_sum_us, ` + histList("h%d") + `)
	SELECT target_id, (bucket / 3600) * 3600 AS b, SUM(count), SUM(failures), SUM(degraded), SUM(lat_count),
		COALESCE(MIN(CASE WHEN lat_count > 0 THEN lat_min_us END), 0), MAX(lat_max_us), SUM(lat_sum_us), ` + histList("SUM(h%d)") + `
	FROM rollup_minute WHERE bucket >= ? AND bucket < ? GROUP BY target_id, b
	ON CONFLICT (bucket, target_id) DO UPDATE SET count = excluded.count, failures = excluded.failures, degraded = excluded.degraded,
		lat_count = excluded.lat_count, lat_min_us = excluded.lat_min_us, lat_max_us = excluded.lat_max_us, lat_sum_us = excluded.lat_sum_us, ` +
	histList("h%d = excluded.h%d")

// RollUp aggregates the minute rollups (written with the results) into hour
// rollups, for every hour that has settled since the last run. It is
// idempotent: an hour is recomputed whole, never incremented twice.
func (db *DB) RollUp(ctx context.Context) error {
	return db.update(ctx, func(tx *Tx) error {
		done, err := metaValue(ctx, tx, "rollup_hour_done") // unix seconds, exclusive
		if err != nil {
			return err
		}
		until := tx.now.Add(-storage.RollupSettle).Truncate(time.Hour).Unix()
		if done == 0 {
			var first sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT MIN(bucket) FROM rollup_minute`).Scan(&first); err != nil {
				return fmt.Errorf("sqlite: first minute rollup: %w", err)
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
			return fmt.Errorf("sqlite: hour rollup: %w", err)
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
		return 0, fmt.Errorf("sqlite: read %s: %w", key, err)
	}
	return v, nil
}

func setMeta(ctx context.Context, tx *Tx, key string, v int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, v); err != nil {
		return fmt.Errorf("sqlite: write %s: %w", key, err)
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
		return nil, fmt.Errorf("sqlite: rollup period must be a minute or an hour, not %s", period)
	}
	cols := "r.bucket, r.count, r.failures, r.degraded, r.lat_count, r.lat_min_us, r.lat_max_us, r.lat_sum_us, " + histList("r.h%d")
	rows, err := db.reader.QueryContext(ctx, `SELECT `+cols+` FROM `+table+` r JOIN targets t ON t.id = r.target_id
		WHERE t.key = ? AND r.bucket >= ? AND r.bucket < ? ORDER BY r.bucket`, targetKey, from.Unix(), to.Unix())
	if err != nil {
		return nil, fmt.Errorf("sqlite: query rollups: %w", err)
	}
	defer rows.Close()
	var out []storage.Rollup
	for rows.Next() {
		r, err := storage.ScanRollup(targetKey, rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("sqlite: scan rollup: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// deleteChunk bounds how long one delete holds the write lock.
const deleteChunk = 5000

// Prune deletes data older than the retention windows, in small
// transactions so the prober's writes are never held up for long. Incident
// evidence lives in the incident tables and is not touched. It returns how
// many rows it deleted.
func (db *DB) Prune(ctx context.Context, keep storage.Retention) (int64, error) {
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
					return fmt.Errorf("sqlite: prune: %w", err)
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

// LatencyHistograms returns each of the targets' response times over
// [from, to), as one Rollup (counts, maximum and histogram) per target
// key: the settled hour rollups where there are some, the minute rollups
// for the rest, none of the checks of the unknown spans (storage.Reads).
// from is rounded down to its hour. A target without a response time in
// the window is absent.
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
	if err := db.reader.QueryRowContext(ctx, `SELECT COALESCE((SELECT value FROM meta WHERE key = 'rollup_hour_done'), 0)`).Scan(&done); err != nil {
		return storage.Reads{}, fmt.Errorf("sqlite: read rollup watermark: %w", err)
	}
	if len(unknown) > 0 {
		if err := db.reader.QueryRowContext(ctx, `SELECT COALESCE(MIN(bucket), 0) FROM rollup_minute`).Scan(&kept); err != nil {
			return storage.Reads{}, fmt.Errorf("sqlite: read the oldest minute rollup: %w", err)
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
	cols := "t.key AS key, r.bucket AS bucket, r.count AS count, r.lat_count AS lat_count, r.lat_max_us AS lat_max_us, " + histList("r.h%d AS h%d")
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
	var parts []string
	var args []any
	for _, part := range []struct {
		table   string
		buckets []int64
	}{{"rollup_hour", hours}, {"rollup_minute", minutes}} {
		if len(part.buckets) == 0 {
			continue
		}
		// The bucket lists are integers made here, not input.
		parts = append(parts, `SELECT `+cols+` FROM `+part.table+` r JOIN targets t ON t.id = r.target_id
			WHERE t.key IN (`+marks+`) AND r.bucket IN (`+joinInts(part.buckets)+`)`)
		for _, k := range keys {
			args = append(args, k)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	first, secs := strconv.FormatInt(from.Unix(), 10), strconv.FormatInt(int64(step/time.Second), 10)
	query := `SELECT key, ` + first + ` + MAX(0, (bucket - ` + first + `) / ` + secs + `) * ` + secs + ` AS b,
		SUM(count), SUM(lat_count), MAX(lat_max_us), ` + histList("SUM(h%d)") + ` FROM (` + strings.Join(parts, " UNION ALL ") + `)
		GROUP BY key, b HAVING SUM(lat_count) > 0`
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("sqlite: query latency histograms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := storage.ScanHistogram(rows.Scan)
		if err != nil {
			return fmt.Errorf("sqlite: scan latency histogram: %w", err)
		}
		add(r)
	}
	return rows.Err()
}

func joinInts(ns []int64) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.FormatInt(n, 10)
	}
	return strings.Join(s, ", ")
}
