package storage

import (
	"context"
	"maps"
	"slices"
	"time"

	"linkwatch/hub"
)

// AddClicks adds a batch of click counts to the totals of the hour
// starting at hour: the hour the clicks happened in, as the hub counted
// them. Links are written in order, so replicas adding to the same rows
// lock them in one order.
func (db *DB) AddClicks(ctx context.Context, hour time.Time, counts map[hub.LinkKey]hub.ClickCount) error {
	hour = hour.UTC().Truncate(time.Hour)
	var rows [][]any
	for _, k := range slices.SortedFunc(maps.Keys(counts), hub.LinkKey.Compare) {
		rows = append(rows, []any{k.Page, k.Link, hour, int64(counts[k].Clicks), int64(counts[k].Fallback)})
	}
	return db.update(ctx, "add clicks", func(tx *Tx) error {
		db.d.Insert(ctx, tx, Insert{Table: "clicks", Cols: []string{"page", "link", "hour", "count", "fallback"}, Rows: rows,
			Then: `ON CONFLICT (page, link, hour) DO UPDATE SET count = clicks.count + excluded.count, fallback = clicks.fallback + excluded.fallback`})
		return nil
	})
}

// ClickTotals returns every link's all-time click count.
func (db *DB) ClickTotals(ctx context.Context) (map[hub.LinkKey]int64, error) {
	out := map[hub.LinkKey]int64{}
	err := each(ctx, db.read, `SELECT page, link, SUM(count) FROM clicks GROUP BY page, link`, nil, func(row scanner) error {
		var k hub.LinkKey
		var n int64
		err := row.Scan(&k.Page, &k.Link, &n)
		out[k] = n
		return err
	})
	return out, db.wrap("read click totals", err)
}

// ClickCounts returns the clicks of q's links in [q.From, q.To) by hour or
// by UTC day, ordered by page, link and time. Bounds inside an hour count
// from that hour's start.
func (db *DB) ClickCounts(ctx context.Context, q hub.ClickQuery) ([]hub.ClickBucket, error) {
	bucket := "hour"
	if q.ByDay {
		bucket = db.d.Day("hour")
	}
	return read(ctx, db, "read clicks", `SELECT page, link, `+bucket+` AS b, SUM(count), SUM(fallback) FROM clicks
		WHERE hour >= $1 AND hour < $2 AND ($3 = '' OR page = $3) AND ($4 = '' OR link = $4)
		GROUP BY page, link, b ORDER BY page, link, b`, []any{q.From.UTC().Truncate(time.Hour), q.To.UTC().Truncate(time.Hour), q.Page, q.Link},
		func(row scanner) (cb hub.ClickBucket, err error) {
			return cb, row.Scan(&cb.Link.Page, &cb.Link.Link, at(&cb.Start), &cb.Clicks, &cb.Fallback)
		})
}
