package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"linkwatch"

	"github.com/jackc/pgx/v5"

	"linkwatch/storage"
)

// targetIDs returns the ids of keys, creating the rows inside tx where
// needed, in one statement. Keys are sorted so that two replicas creating
// the same targets lock them in one order and cannot deadlock. New ids go
// to fresh and are cached only once the transaction commits.
func (db *DB) targetIDs(ctx context.Context, tx *Tx, fresh map[string]int64, want map[string]linkwatch.Result) error {
	var keys, kinds, urls []string
	for key := range want {
		if _, ok := db.targets.Get(key); ok {
			continue
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	for _, key := range keys {
		r := want[key]
		kinds, urls = append(kinds, string(r.Kind)), append(urls, r.URL)
	}
	rows, err := tx.Query(ctx, `INSERT INTO targets (key, kind, url) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
		ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, url = excluded.url RETURNING key, id`, keys, kinds, urls)
	if err != nil {
		return fmt.Errorf("postgres: targets: %w", err)
	}
	var key string
	var id int64
	_, err = pgx.ForEachRow(rows, []any{&key, &id}, func() error { fresh[key] = id; return nil })
	if err != nil {
		return fmt.Errorf("postgres: targets: %w", err)
	}
	return nil
}

func (db *DB) idOf(fresh map[string]int64, key string) int64 {
	if id, ok := fresh[key]; ok {
		return id
	}
	id, _ := db.targets.Get(key)
	return id
}

// minuteUpsertSQL adds a batch's minute aggregates (one array per column)
// into rollup_minute in one statement.
var minuteUpsertSQL = func() string {
	var b strings.Builder
	b.WriteString(`INSERT INTO rollup_minute (bucket, target_id, count, failures, degraded, lat_count, lat_min_us, lat_max_us, lat_sum_us`)
	for i := range storage.HistColumns {
		fmt.Fprintf(&b, ", h%d", i)
	}
	b.WriteString(`) SELECT * FROM unnest(`)
	for i := range minuteColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d::bigint[]", i+1)
	}
	// A row without a response time yet has no minimum to keep.
	b.WriteString(`) ON CONFLICT (bucket, target_id) DO UPDATE SET count = rollup_minute.count + excluded.count,
		failures = rollup_minute.failures + excluded.failures, degraded = rollup_minute.degraded + excluded.degraded,
		lat_count = rollup_minute.lat_count + excluded.lat_count,
		lat_min_us = CASE WHEN rollup_minute.lat_count = 0 THEN excluded.lat_min_us WHEN excluded.lat_count = 0 THEN rollup_minute.lat_min_us
			ELSE LEAST(rollup_minute.lat_min_us, excluded.lat_min_us) END,
		lat_max_us = GREATEST(rollup_minute.lat_max_us, excluded.lat_max_us),
		lat_sum_us = rollup_minute.lat_sum_us + excluded.lat_sum_us`)
	for i := range storage.HistColumns {
		fmt.Fprintf(&b, ", h%d = rollup_minute.h%d + excluded.h%d", i, i, i)
	}
	return b.String()
}()

// minuteColumns is how many columns a minute rollup row has.
const minuteColumns = 9 + storage.HistColumns

// SaveResults writes a batch of results in one transaction: every result
// into the minute rollup of its series (Result.SeriesID), in one statement,
// and with COPY as a raw result what the sampler keeps (every change of
// status or cause and a sample every 10 minutes).
func (db *DB) SaveResults(ctx context.Context, results []linkwatch.Result) error {
	if len(results) == 0 {
		return nil
	}
	db.saveMu.Lock()
	defer db.saveMu.Unlock()
	plan := db.sampler.Plan(results)
	fresh := map[string]int64{}
	err := db.update(ctx, func(tx *Tx) error {
		want := map[string]linkwatch.Result{}
		for _, r := range results {
			want[r.TargetID] = r
			if s := r.SeriesID(); s != r.TargetID {
				if _, ok := want[s]; !ok {
					want[s] = linkwatch.Result{Kind: r.Kind, URL: s}
				}
			}
		}
		if err := db.targetIDs(ctx, tx, fresh, want); err != nil {
			return err
		}
		var raw [][]any
		for i := range results {
			if !plan.Keep[i] {
				continue
			}
			r := &results[i]
			var cause, summary, detail any // NULL for a success
			if r.Status != linkwatch.StatusUp {
				b, err := json.Marshal(r)
				if err != nil {
					return fmt.Errorf("postgres: encode result detail: %w", err)
				}
				cause, summary, detail = string(r.Cause), r.Summary, string(b)
			}
			raw = append(raw, []any{db.idOf(fresh, r.TargetID), r.Start.UnixMilli(), r.Latency.Microseconds(),
				string(r.Status), int32(r.StatusCode), cause, summary, detail})
		}
		if len(raw) > 0 {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"results"},
				[]string{"target_id", "started_at", "latency_us", "status", "status_code", "cause", "summary", "detail"},
				pgx.CopyFromRows(raw))
			if err != nil {
				return fmt.Errorf("postgres: copy results: %w", err)
			}
		}
		return db.addMinutes(ctx, tx, fresh, plan)
	})
	if err == nil {
		db.targets.Merge(fresh)
		db.sampler.Commit(plan)
	}
	return err
}

// addMinutes adds the batch's minute aggregates, sorted by key: replicas
// adding into the same minutes lock the rows in one order.
func (db *DB) addMinutes(ctx context.Context, tx *Tx, fresh map[string]int64, plan *storage.Batch) error {
	type row struct {
		bucket, target int64
		a              *storage.MinuteAgg
	}
	rows := make([]row, 0, len(plan.Minutes))
	for k, a := range plan.Minutes {
		rows = append(rows, row{k.Start, db.idOf(fresh, k.Series), a})
	}
	slices.SortFunc(rows, func(x, y row) int { return cmp.Or(cmp.Compare(x.bucket, y.bucket), cmp.Compare(x.target, y.target)) })
	cols := make([][]int64, minuteColumns)
	for _, r := range rows {
		vals := append([]int64{r.bucket, r.target, r.a.Count, r.a.Failures, r.a.Degraded, r.a.LatCount, r.a.MinUS, r.a.MaxUS, r.a.SumUS}, r.a.Hist[:]...)
		for i, v := range vals {
			cols[i] = append(cols[i], v)
		}
	}
	args := make([]any, len(cols))
	for i := range cols {
		args[i] = cols[i]
	}
	if _, err := tx.Exec(ctx, minuteUpsertSQL, args...); err != nil {
		return fmt.Errorf("postgres: minute rollup: %w", err)
	}
	return nil
}

// RecentResults returns up to limit of a target's newest raw results, newest first.
func (db *DB) RecentResults(ctx context.Context, targetKey string, limit int) ([]storage.StoredResult, error) {
	rows, err := db.pool.Query(ctx, `SELECT r.started_at, r.latency_us, r.status, r.status_code,
			COALESCE(r.cause, ''), COALESCE(r.summary, ''), r.detail
		FROM results r JOIN targets t ON t.id = r.target_id
		WHERE t.key = $1 ORDER BY r.started_at DESC LIMIT $2`, targetKey, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: query results: %w", err)
	}
	defer rows.Close()
	var out []storage.StoredResult
	for rows.Next() {
		var (
			s             storage.StoredResult
			ms, us        int64
			status, cause string
			code          int32
			detail        []byte
		)
		if err := rows.Scan(&ms, &us, &status, &code, &cause, &s.Summary, &detail); err != nil {
			return nil, fmt.Errorf("postgres: scan result: %w", err)
		}
		s.TargetID, s.Start, s.Latency = targetKey, time.UnixMilli(ms).UTC(), time.Duration(us)*time.Microsecond
		s.Status, s.Cause, s.StatusCode = linkwatch.Status(status), linkwatch.Cause(cause), int(code)
		if detail != nil {
			var r linkwatch.Result
			if err := json.Unmarshal(detail, &r); err != nil {
				return nil, fmt.Errorf("postgres: decode result detail: %w", err)
			}
			s.Detail = &r
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
