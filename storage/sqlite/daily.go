package sqlite

import (
	"context"
	"fmt"
	"linkwatch/storage"
	"time"
)

// DailyStats returns per-target daily totals since from, read from the
// rollups (hours already rolled up, minutes for the rest), never from raw
// results: the cost does not grow with history.
func (db *DB) DailyStats(ctx context.Context, from time.Time) ([]storage.DayStat, error) {
	rows, err := db.reader.QueryContext(ctx, `
		WITH hw AS (SELECT COALESCE((SELECT value FROM meta WHERE key = 'rollup_hour_done'), 0) AS v),
		all_rows AS (
			SELECT target_id, bucket, count, failures, degraded FROM rollup_hour WHERE bucket >= ?
			UNION ALL
			SELECT target_id, bucket, count, failures, degraded FROM rollup_minute, hw WHERE bucket >= MAX(?, hw.v)
		)
		SELECT t.key, (a.bucket / 86400) * 86400 AS day, SUM(a.count), SUM(a.failures), SUM(a.degraded)
		FROM all_rows a JOIN targets t ON t.id = a.target_id
		GROUP BY t.key, day ORDER BY t.key, day`, from.Unix(), from.Unix())
	if err != nil {
		return nil, fmt.Errorf("sqlite: daily stats: %w", err)
	}
	defer rows.Close()
	var out []storage.DayStat
	for rows.Next() {
		var s storage.DayStat
		var day int64
		if err := rows.Scan(&s.Target, &day, &s.Count, &s.Failures, &s.Degraded); err != nil {
			return nil, fmt.Errorf("sqlite: scan daily stats: %w", err)
		}
		s.Day = time.Unix(day, 0).UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}
