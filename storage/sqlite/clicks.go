package sqlite

import (
	"context"
	"fmt"
	"time"

	"linkwatch/hub"
)

// clickHour is the format of the clicks table's hour column (UTC).
const clickHour = "2006-01-02T15"

// AddClicks adds a batch of click counts to the totals of the hour
// starting at hour: the hour the clicks happened in, as the hub counted
// them.
func (db *DB) AddClicks(ctx context.Context, hour time.Time, counts map[hub.LinkKey]hub.ClickCount) error {
	return db.update(ctx, func(tx *Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO clicks (page, link, hour, count, fallback) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (page, link, hour) DO UPDATE SET count = count + excluded.count, fallback = fallback + excluded.fallback`)
		if err != nil {
			return fmt.Errorf("sqlite: prepare click insert: %w", err)
		}
		defer stmt.Close()
		at := hour.UTC().Format(clickHour)
		for k, n := range counts {
			if _, err := stmt.ExecContext(ctx, k.Page, k.Link, at, n.Clicks, n.Fallback); err != nil {
				return fmt.Errorf("sqlite: add clicks for %s: %w", k, err)
			}
		}
		return nil
	})
}

// ClickTotals returns every link's all-time click count.
func (db *DB) ClickTotals(ctx context.Context) (map[hub.LinkKey]int64, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT page, link, SUM(count) FROM clicks GROUP BY page, link`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query click totals: %w", err)
	}
	defer rows.Close()
	out := map[hub.LinkKey]int64{}
	for rows.Next() {
		var k hub.LinkKey
		var n int64
		if err := rows.Scan(&k.Page, &k.Link, &n); err != nil {
			return nil, fmt.Errorf("sqlite: scan click totals: %w", err)
		}
		out[k] = n
	}
	return out, rows.Err()
}

// ClickCounts returns the clicks of q's links in [q.From, q.To) by hour or
// by UTC day, ordered by page, link and time. Bounds inside an hour count
// from that hour's start.
func (db *DB) ClickCounts(ctx context.Context, q hub.ClickQuery) ([]hub.ClickBucket, error) {
	bucket, layout := "hour", clickHour
	if q.ByDay {
		bucket, layout = "substr(hour, 1, 10)", time.DateOnly
	}
	query := `SELECT page, link, ` + bucket + ` AS b, SUM(count), SUM(fallback) FROM clicks WHERE hour >= ? AND hour < ?`
	args := []any{q.From.UTC().Format(clickHour), q.To.UTC().Format(clickHour)}
	if q.Page != "" {
		query += ` AND page = ?`
		args = append(args, q.Page)
	}
	if q.Link != "" {
		query += ` AND link = ?`
		args = append(args, q.Link)
	}
	query += ` GROUP BY page, link, b ORDER BY page, link, b`
	rows, err := db.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query clicks: %w", err)
	}
	defer rows.Close()
	var out []hub.ClickBucket
	for rows.Next() {
		var (
			cb hub.ClickBucket
			b  string
		)
		if err := rows.Scan(&cb.Link.Page, &cb.Link.Link, &b, &cb.Clicks, &cb.Fallback); err != nil {
			return nil, fmt.Errorf("sqlite: scan clicks: %w", err)
		}
		if cb.Start, err = time.Parse(layout, b); err != nil {
			return nil, fmt.Errorf("sqlite: clicks bucket %q: %w", b, err)
		}
		out = append(out, cb)
	}
	return out, rows.Err()
}
