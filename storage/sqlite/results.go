package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

// targetID returns the id for key, creating the row inside tx if needed.
// New ids go to fresh and are cached only once the transaction commits.
func (db *DB) targetID(ctx context.Context, tx *Tx, fresh map[string]int64, key string, kind linkwatch.TargetKind, url string) (int64, error) {
	if id, ok := db.targets.Get(key); ok {
		return id, nil
	}
	if id, ok := fresh[key]; ok {
		return id, nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO targets (key, kind, url) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, url = excluded.url RETURNING id`, key, string(kind), url).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("sqlite: target %q: %w", key, err)
	}
	fresh[key] = id
	return id, nil
}

var minuteUpsertSQL = func() string {
	var b strings.Builder
	b.WriteString(`INSERT INTO rollup_minute (target_id, bucket, count, failures, degraded, lat_count, lat_min_us, lat_max_us, lat_sum_us`)
	for i := 0; i < storage.HistColumns; i++ {
		fmt.Fprintf(&b, ", h%d", i)
	}
	b.WriteString(`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?`)
	for i := 0; i < storage.HistColumns; i++ {
		b.WriteString(", ?")
	}
	// A row without a response time yet has no minimum to keep.
	b.WriteString(`) ON CONFLICT (bucket, target_id) DO UPDATE SET count = count + excluded.count,
		failures = failures + excluded.failures, degraded = degraded + excluded.degraded,
		lat_min_us = CASE WHEN lat_count = 0 THEN excluded.lat_min_us WHEN excluded.lat_count = 0 THEN lat_min_us
			ELSE MIN(lat_min_us, excluded.lat_min_us) END,
		lat_count = lat_count + excluded.lat_count, lat_max_us = MAX(lat_max_us, excluded.lat_max_us),
		lat_sum_us = lat_sum_us + excluded.lat_sum_us`)
	for i := 0; i < storage.HistColumns; i++ {
		fmt.Fprintf(&b, ", h%d = h%d + excluded.h%d", i, i, i)
	}
	return b.String()
}()

// SaveResults writes a batch of results in one transaction: every result
// into the minute rollup of its series (Result.SeriesID), and as a raw
// result what storage.Sampler keeps (every change of status or cause and a
// sample every storage.RawSampleEvery).
func (db *DB) SaveResults(ctx context.Context, results []linkwatch.Result) error {
	if len(results) == 0 {
		return nil
	}
	var plan *storage.Batch
	fresh := map[string]int64{}
	err := db.update(ctx, func(tx *Tx) error {
		// Planned on the single writer connection: batches are planned in
		// the order they are written.
		plan = db.sampler.Plan(results)
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO results
			(target_id, started_at, latency_us, status, status_code, cause, summary, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("sqlite: prepare result insert: %w", err)
		}
		defer stmt.Close()
		for i := range results {
			r := &results[i]
			id, err := db.targetID(ctx, tx, fresh, r.TargetID, r.Kind, r.URL)
			if err != nil {
				return err
			}
			if r.Series != "" && r.Series != r.TargetID {
				if _, err := db.targetID(ctx, tx, fresh, r.Series, r.Kind, r.Series); err != nil {
					return err
				}
			}
			if !plan.Keep[i] {
				continue
			}
			var cause, summary, detail sql.NullString
			if r.Status != linkwatch.StatusUp {
				cause = sql.NullString{String: string(r.Cause), Valid: true}
				summary = sql.NullString{String: r.Summary, Valid: true}
				b, err := json.Marshal(r)
				if err != nil {
					return fmt.Errorf("sqlite: encode result detail: %w", err)
				}
				detail = sql.NullString{String: string(b), Valid: true}
			}
			if _, err := stmt.ExecContext(ctx, id, r.Start.UnixMilli(), r.Latency.Microseconds(),
				string(r.Status), r.StatusCode, cause, summary, detail); err != nil {
				return fmt.Errorf("sqlite: insert result for %s: %w", r.TargetID, err)
			}
		}
		up, err := tx.PrepareContext(ctx, minuteUpsertSQL)
		if err != nil {
			return fmt.Errorf("sqlite: prepare minute rollup: %w", err)
		}
		defer up.Close()
		for k, a := range plan.Minutes {
			// Every series was given its id in the loop above.
			series, ok := fresh[k.Series]
			if !ok {
				series, _ = db.targets.Get(k.Series)
			}
			args := []any{series, k.Start, a.Count, a.Failures, a.Degraded, a.LatCount, a.MinUS, a.MaxUS, a.SumUS}
			for _, h := range a.Hist {
				args = append(args, h)
			}
			if _, err := up.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("sqlite: minute rollup: %w", err)
			}
		}
		return nil
	})
	if err == nil {
		db.targets.Merge(fresh)
		db.sampler.Commit(plan)
	}
	return err
}

// RecentResults returns up to limit of a target's newest raw results, newest first.
func (db *DB) RecentResults(ctx context.Context, targetKey string, limit int) ([]storage.StoredResult, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT r.started_at, r.latency_us, r.status, r.status_code,
			COALESCE(r.cause, ''), COALESCE(r.summary, ''), r.detail
		FROM results r JOIN targets t ON t.id = r.target_id
		WHERE t.key = ? ORDER BY r.started_at DESC LIMIT ?`, targetKey, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: query results: %w", err)
	}
	defer rows.Close()
	var out []storage.StoredResult
	for rows.Next() {
		var (
			s      storage.StoredResult
			ms, us int64
			status string
			cause  string
			detail sql.NullString
		)
		if err := rows.Scan(&ms, &us, &status, &s.StatusCode, &cause, &s.Summary, &detail); err != nil {
			return nil, fmt.Errorf("sqlite: scan result: %w", err)
		}
		s.TargetID, s.Start, s.Latency = targetKey, time.UnixMilli(ms).UTC(), time.Duration(us)*time.Microsecond
		s.Status, s.Cause = linkwatch.Status(status), linkwatch.Cause(cause)
		if detail.Valid {
			var r linkwatch.Result
			if err := json.Unmarshal([]byte(detail.String), &r); err != nil {
				return nil, fmt.Errorf("sqlite: decode result detail: %w", err)
			}
			s.Detail = &r
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
