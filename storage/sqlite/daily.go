package sqlite

import (
	"context"
	"time"

	"linkwatch/storage"
)

// DailyStats returns per-target daily totals since from, read from the
// rollups (hours already rolled up, minutes for the rest), never from raw
// results: the cost does not grow with history.
func (db *DB) DailyStats(ctx context.Context, from time.Time) ([]storage.DayStat, error) {
	return queryAll(ctx, db.reader, "daily stats", `
		WITH hw AS (SELECT COALESCE((SELECT value FROM meta WHERE key = 'rollup_hour_done'), 0) AS v),
		all_rows AS (
			SELECT target_id, bucket, count, failures, degraded FROM rollup_hour WHERE bucket >= ?
			UNION ALL
			SELECT target_id, bucket, count, failures, degraded FROM rollup_minute, hw WHERE bucket >= MAX(?, hw.v)
		)
		SELECT t.key, (a.bucket / 86400) * 86400 AS day, SUM(a.count), SUM(a.failures), SUM(a.degraded)
		FROM all_rows a JOIN targets t ON t.id = a.target_id
		GROUP BY t.key, day ORDER BY t.key, day`, []any{from.Unix(), from.Unix()},
		func(row rowScanner) (storage.DayStat, error) {
			var st storage.DayStat
			var day int64
			err := row.Scan(&st.Target, &day, &st.Count, &st.Failures, &st.Degraded)
			st.Day = time.Unix(day, 0).UTC()
			return st, err
		})
}
