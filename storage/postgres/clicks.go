package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"linkwatch/hub"
)

// AddClicks adds a batch of click counts to the totals of the hour
// starting at hour (the hour the clicks happened in, as the hub counted
// them) in one statement. Links are sorted so that replicas adding to the
// same rows lock them in one order.
func (db *DB) AddClicks(ctx context.Context, hour time.Time, counts map[hub.LinkKey]hub.ClickCount) error {
	if len(counts) == 0 {
		return nil
	}
	keys := make([]hub.LinkKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b hub.LinkKey) int { return cmp.Or(cmp.Compare(a.Page, b.Page), cmp.Compare(a.Link, b.Link)) })
	pages, links := make([]string, len(keys)), make([]string, len(keys))
	clicks, fallback := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		pages[i], links[i], clicks[i], fallback[i] = k.Page, k.Link, int64(counts[k].Clicks), int64(counts[k].Fallback)
	}
	hour = hour.UTC().Truncate(time.Hour)
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO clicks (page, link, hour, count, fallback)
			SELECT page, link, $3, count, fallback FROM unnest($1::text[], $2::text[], $4::bigint[], $5::bigint[]) AS u (page, link, count, fallback)
			ON CONFLICT (page, link, hour) DO UPDATE SET count = clicks.count + excluded.count, fallback = clicks.fallback + excluded.fallback`,
			pages, links, hour, clicks, fallback)
		if err != nil {
			return fmt.Errorf("postgres: add clicks: %w", err)
		}
		return nil
	})
}

// ClickTotals returns every link's all-time click count.
func (db *DB) ClickTotals(ctx context.Context) (map[hub.LinkKey]int64, error) {
	rows, err := db.pool.Query(ctx, `SELECT page, link, SUM(count)::bigint FROM clicks GROUP BY page, link`)
	if err != nil {
		return nil, fmt.Errorf("postgres: query click totals: %w", err)
	}
	out := map[hub.LinkKey]int64{}
	var k hub.LinkKey
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&k.Page, &k.Link, &n}, func() error { out[k] = n; return nil }); err != nil {
		return nil, fmt.Errorf("postgres: scan click totals: %w", err)
	}
	return out, nil
}

// ClickCounts returns the clicks of q's links in [q.From, q.To) by hour or
// by UTC day, ordered by page, link and time. Bounds inside an hour count
// from that hour's start.
func (db *DB) ClickCounts(ctx context.Context, q hub.ClickQuery) ([]hub.ClickBucket, error) {
	bucket := "hour"
	if q.ByDay {
		bucket = "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
	}
	query := `SELECT page, link, ` + bucket + ` AS b, SUM(count)::bigint, SUM(fallback)::bigint FROM clicks
		WHERE hour >= $1 AND hour < $2 AND ($3 = '' OR page = $3) AND ($4 = '' OR link = $4)
		GROUP BY page, link, b ORDER BY page, link, b`
	rows, err := db.pool.Query(ctx, query, q.From.UTC().Truncate(time.Hour), q.To.UTC().Truncate(time.Hour), q.Page, q.Link)
	if err != nil {
		return nil, fmt.Errorf("postgres: query clicks: %w", err)
	}
	var out []hub.ClickBucket
	var cb hub.ClickBucket
	var start time.Time
	_, err = pgx.ForEachRow(rows, []any{&cb.Link.Page, &cb.Link.Link, &start, &cb.Clicks, &cb.Fallback}, func() error {
		cb.Start = start.UTC()
		out = append(out, cb)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: scan clicks: %w", err)
	}
	return out, nil
}
