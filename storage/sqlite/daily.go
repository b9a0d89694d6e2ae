package sqlite

import (
	"context"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

// DailyStats returns per-target daily totals over [from, to), read from
// the rollups storage.PlanReads chooses (hours already rolled up, minutes
// for the rest, none of the checks of the unknown spans), never from raw
// results: the cost does not grow with history.
func (db *DB) DailyStats(ctx context.Context, from, to time.Time, unknown []linkwatch.Span) ([]storage.DayStat, error) {
	reads, err := db.plan(ctx, from, to, unknown)
	if err != nil {
		return nil, err
	}
	// The bucket lists are integers made here, not input.
	hours := `SELECT target_id, bucket, count, failures, degraded FROM rollup_hour WHERE bucket >= ? AND bucket < ?`
	if len(reads.SkipHours) > 0 {
		hours += ` AND bucket NOT IN (` + joinInts(reads.SkipHours) + `)`
	}
	minutes := `SELECT target_id, bucket, count, failures, degraded FROM rollup_minute WHERE bucket >= ? AND bucket < ?`
	if len(reads.SkipMinutes) > 0 {
		minutes += ` AND bucket NOT IN (` + joinInts(reads.SkipMinutes) + `)`
	}
	if len(reads.MoreMinutes) > 0 {
		minutes += ` UNION ALL SELECT target_id, bucket, count, failures, degraded FROM rollup_minute WHERE bucket IN (` + joinInts(reads.MoreMinutes) + `)`
	}
	return queryAll(ctx, db.reader, "daily stats", `
		SELECT t.key, (a.bucket / 86400) * 86400 AS day, SUM(a.count), SUM(a.failures), SUM(a.degraded)
		FROM (`+hours+` UNION ALL `+minutes+`) a JOIN targets t ON t.id = a.target_id
		GROUP BY t.key, day ORDER BY t.key, day`, []any{reads.HoursFrom, reads.HoursTo, reads.MinutesFrom, reads.MinutesTo},
		func(row rowScanner) (storage.DayStat, error) {
			var st storage.DayStat
			var day int64
			err := row.Scan(&st.Target, &day, &st.Count, &st.Failures, &st.Degraded)
			st.Day = time.Unix(day, 0).UTC()
			return st, err
		})
}
