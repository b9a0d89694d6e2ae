package postgres

import (
	"context"
	"fmt"

	"linkwatch"

	"github.com/jackc/pgx/v5"
)

// FeedIDs returns the feed's UUID and each given incident's, made once by
// the database (a column default and migration 0002) and never changed, so
// feed readers keep their read state whatever happens to the hub's URL.
func (db *DB) FeedIDs(ctx context.Context, incidentIDs []int64) (string, map[int64]string, error) {
	var feed string
	if err := db.pool.QueryRow(ctx, `SELECT value FROM site WHERE key = 'feed_id'`).Scan(&feed); err != nil {
		return "", nil, fmt.Errorf("postgres: read feed id: %w", err)
	}
	out := make(map[int64]string, len(incidentIDs))
	if len(incidentIDs) == 0 {
		return feed, out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT id, public_id FROM incidents WHERE id = ANY($1)`, incidentIDs)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: read incident public ids: %w", err)
	}
	var id int64
	var pub string
	if _, err := pgx.ForEachRow(rows, []any{&id, &pub}, func() error { out[id] = pub; return nil }); err != nil {
		return "", nil, fmt.Errorf("postgres: read incident public ids: %w", err)
	}
	for _, id := range incidentIDs {
		if _, ok := out[id]; !ok {
			return "", nil, fmt.Errorf("postgres: incident %d has no public id: %w", id, linkwatch.ErrNotFound)
		}
	}
	return feed, out, nil
}
