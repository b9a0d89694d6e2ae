package storage

import (
	"context"
	"fmt"

	"linkwatch/hub"
)

// AddClicks adds a batch of click counts to today's totals in one transaction.
func (db *DB) AddClicks(ctx context.Context, counts map[hub.LinkKey]int64) error {
	return db.update(ctx, func(tx *Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO clicks (page, link, day, count) VALUES (?, ?, ?, ?)
			ON CONFLICT (page, link, day) DO UPDATE SET count = count + excluded.count`)
		if err != nil {
			return fmt.Errorf("storage: prepare click insert: %w", err)
		}
		defer stmt.Close()
		day := tx.now.Format("2006-01-02")
		for k, n := range counts {
			if _, err := stmt.ExecContext(ctx, k.Page, k.Link, day, n); err != nil {
				return fmt.Errorf("storage: add clicks for %s: %w", k, err)
			}
		}
		return nil
	})
}

// ClickTotals returns every link's all-time click count.
func (db *DB) ClickTotals(ctx context.Context) (map[hub.LinkKey]int64, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT page, link, SUM(count) FROM clicks GROUP BY page, link`)
	if err != nil {
		return nil, fmt.Errorf("storage: query click totals: %w", err)
	}
	defer rows.Close()
	out := map[hub.LinkKey]int64{}
	for rows.Next() {
		var k hub.LinkKey
		var n int64
		if err := rows.Scan(&k.Page, &k.Link, &n); err != nil {
			return nil, fmt.Errorf("storage: scan click totals: %w", err)
		}
		out[k] = n
	}
	return out, rows.Err()
}
