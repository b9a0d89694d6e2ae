package sqlite

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"linkwatch"
)

// FeedIDs returns the feed's UUID and each given incident's, made once by
// the database (migration 0005) and never changed, so feed readers keep
// their read state whatever happens to the hub's URL.
func (db *DB) FeedIDs(ctx context.Context, incidentIDs []int64) (string, map[int64]string, error) {
	var feed string
	if err := db.reader.QueryRowContext(ctx, `SELECT value FROM site WHERE key = 'feed_id'`).Scan(&feed); err != nil {
		return "", nil, fmt.Errorf("sqlite: read feed id: %w", err)
	}
	out := make(map[int64]string, len(incidentIDs))
	if len(incidentIDs) == 0 {
		return feed, out, nil
	}
	args := make([]any, len(incidentIDs))
	for i, id := range incidentIDs {
		args[i] = id
	}
	rows, err := db.reader.QueryContext(ctx, `SELECT id, public_id FROM incidents WHERE id IN (?`+
		strings.Repeat(",?", len(incidentIDs)-1)+`)`, args...)
	if err != nil {
		return "", nil, fmt.Errorf("sqlite: read incident public ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var pub string
		if err := rows.Scan(&id, &pub); err != nil {
			return "", nil, fmt.Errorf("sqlite: read incident public ids: %w", err)
		}
		out[id] = pub
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("sqlite: read incident public ids: %w", err)
	}
	for _, id := range incidentIDs {
		if _, ok := out[id]; !ok {
			return "", nil, fmt.Errorf("sqlite: incident %s has no public id: %w", strconv.FormatInt(id, 10), linkwatch.ErrNotFound)
		}
	}
	return feed, out, nil
}
