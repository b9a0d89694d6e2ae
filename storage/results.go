package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"linkwatch/checker"
)

// committed is state kept in memory about rows a transaction wrote. A
// transaction collects its changes apart and merges them only once it has
// committed, so a rollback never leaves the cache ahead of the database.
type committed[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

func (c *committed[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *committed[K, V]) merge(fresh map[K]V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[K]V{}
	}
	for k, v := range fresh {
		c.m[k] = v
	}
}

// targetID returns the id for key, creating the row inside tx if needed.
// New ids go to fresh and are cached only once the transaction commits.
func (db *DB) targetID(ctx context.Context, tx *Tx, fresh map[string]int64, key string, kind checker.Kind, url string) (int64, error) {
	if id, ok := db.targets.get(key); ok {
		return id, nil
	}
	if id, ok := fresh[key]; ok {
		return id, nil
	}
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO targets (key, kind, url) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, url = excluded.url RETURNING id`, key, string(kind), url).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("storage: target %q: %w", key, err)
	}
	fresh[key] = id
	return id, nil
}

// rawSampleEvery is how often a target's result is kept as a raw result
// while nothing changes. Every change of status or cause is kept, and the
// minute rollups count every result: keeping each of 8,640 identical results
// a day (with its full detail, for a failing destination) would cost
// megabytes per destination per day and say nothing the rollups do not.
// The results that opened an incident are kept with it as its evidence.
const rawSampleEvery = 10 * time.Minute

// rawState is what decides whether a target's next result is kept raw.
type rawState struct {
	seen    bool
	last    checker.Status
	cause   checker.Cause
	lastRaw time.Time
}

// keep reports whether r is kept as a raw result, and advances st.
func (st *rawState) keep(r *checker.Result) bool {
	keep := !st.seen || r.Status != st.last || r.Cause != st.cause || r.Start.Sub(st.lastRaw) >= rawSampleEvery
	st.seen, st.last, st.cause = true, r.Status, r.Cause
	if keep {
		st.lastRaw = r.Start
	}
	return keep
}

// minuteAgg accumulates one target's results over one minute.
type minuteAgg struct {
	count, failures, degraded int64
	minUS, maxUS, sumUS       int64
	hist                      [histColumns]int64
}

func (a *minuteAgg) add(r *checker.Result) {
	us := r.Latency.Microseconds()
	if a.count == 0 || us < a.minUS {
		a.minUS = us
	}
	a.maxUS = max(a.maxUS, us)
	a.count++
	a.sumUS += us
	switch r.Status {
	case checker.StatusDown:
		a.failures++
	case checker.StatusDegraded:
		a.degraded++
	}
	a.hist[histBucket(r.Latency)]++
}

func histBucket(d time.Duration) int {
	for i, b := range LatencyBuckets {
		if d < b {
			return i
		}
	}
	return len(LatencyBuckets)
}

var minuteUpsertSQL = func() string {
	var b strings.Builder
	b.WriteString(`INSERT INTO rollup_minute VALUES (?, ?, ?, ?, ?, ?, ?, ?`)
	for i := 0; i < histColumns; i++ {
		b.WriteString(", ?")
	}
	b.WriteString(`) ON CONFLICT (bucket, target_id) DO UPDATE SET count = count + excluded.count,
		failures = failures + excluded.failures, degraded = degraded + excluded.degraded,
		lat_min_us = MIN(lat_min_us, excluded.lat_min_us), lat_max_us = MAX(lat_max_us, excluded.lat_max_us),
		lat_sum_us = lat_sum_us + excluded.lat_sum_us`)
	for i := 0; i < histColumns; i++ {
		fmt.Fprintf(&b, ", h%d = h%d + excluded.h%d", i, i, i)
	}
	return b.String()
}()

// SaveResults writes a batch of results in one transaction: every result
// into the minute rollup of its series (Result.SeriesID), and as a raw result every change of status or
// cause and a sample every rawSampleEvery.
func (db *DB) SaveResults(ctx context.Context, results []checker.Result) error {
	if len(results) == 0 {
		return nil
	}
	fresh := map[string]int64{}
	states := map[int64]rawState{} // this batch's view; stored only on commit
	err := db.update(ctx, func(tx *Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO results
			(target_id, started_at, latency_us, status, status_code, cause, summary, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("storage: prepare result insert: %w", err)
		}
		defer stmt.Close()
		type minuteKey struct{ target, bucket int64 }
		aggs := map[minuteKey]*minuteAgg{}
		for i := range results {
			r := &results[i]
			id, err := db.targetID(ctx, tx, fresh, r.TargetID, r.Kind, r.URL)
			if err != nil {
				return err
			}
			series := id
			if r.Series != "" && r.Series != r.TargetID {
				if series, err = db.targetID(ctx, tx, fresh, r.Series, r.Kind, r.Series); err != nil {
					return err
				}
			}
			k := minuteKey{series, r.Start.Unix() / 60 * 60}
			a := aggs[k]
			if a == nil {
				a = &minuteAgg{}
				aggs[k] = a
			}
			a.add(r)
			st, ok := states[id]
			if !ok {
				st, _ = db.raw.get(id)
			}
			keep := st.keep(r)
			states[id] = st
			if !keep {
				continue
			}
			var cause, summary, detail sql.NullString
			if r.Status != checker.StatusUp {
				cause = sql.NullString{String: string(r.Cause), Valid: true}
				summary = sql.NullString{String: r.Summary, Valid: true}
				b, err := json.Marshal(r)
				if err != nil {
					return fmt.Errorf("storage: encode result detail: %w", err)
				}
				detail = sql.NullString{String: string(b), Valid: true}
			}
			if _, err := stmt.ExecContext(ctx, id, r.Start.UnixMilli(), r.Latency.Microseconds(),
				string(r.Status), r.StatusCode, cause, summary, detail); err != nil {
				return fmt.Errorf("storage: insert result for %s: %w", r.TargetID, err)
			}
		}
		up, err := tx.PrepareContext(ctx, minuteUpsertSQL)
		if err != nil {
			return fmt.Errorf("storage: prepare minute rollup: %w", err)
		}
		defer up.Close()
		for k, a := range aggs {
			args := []any{k.target, k.bucket, a.count, a.failures, a.degraded, a.minUS, a.maxUS, a.sumUS}
			for _, h := range a.hist {
				args = append(args, h)
			}
			if _, err := up.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("storage: minute rollup: %w", err)
			}
		}
		return nil
	})
	if err == nil {
		db.targets.merge(fresh)
		db.raw.merge(states)
	}
	return err
}

// StoredResult is a raw result as stored: the narrow columns always, the full
// Result only for failures.
type StoredResult struct {
	TargetID   string
	Start      time.Time
	Latency    time.Duration
	Status     checker.Status
	StatusCode int
	Cause      checker.Cause
	Summary    string
	Detail     *checker.Result // nil for successes
}

// RecentResults returns up to limit of a target's newest raw results, newest first.
func (db *DB) RecentResults(ctx context.Context, targetKey string, limit int) ([]StoredResult, error) {
	rows, err := db.reader.QueryContext(ctx, `SELECT r.started_at, r.latency_us, r.status, r.status_code,
			COALESCE(r.cause, ''), COALESCE(r.summary, ''), r.detail
		FROM results r JOIN targets t ON t.id = r.target_id
		WHERE t.key = ? ORDER BY r.started_at DESC LIMIT ?`, targetKey, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: query results: %w", err)
	}
	defer rows.Close()
	var out []StoredResult
	for rows.Next() {
		var (
			s      StoredResult
			ms, us int64
			status string
			cause  string
			detail sql.NullString
		)
		if err := rows.Scan(&ms, &us, &status, &s.StatusCode, &cause, &s.Summary, &detail); err != nil {
			return nil, fmt.Errorf("storage: scan result: %w", err)
		}
		s.TargetID, s.Start, s.Latency = targetKey, time.UnixMilli(ms).UTC(), time.Duration(us)*time.Microsecond
		s.Status, s.Cause = checker.Status(status), checker.Cause(cause)
		if detail.Valid {
			var r checker.Result
			if err := json.Unmarshal([]byte(detail.String), &r); err != nil {
				return nil, fmt.Errorf("storage: decode result detail: %w", err)
			}
			s.Detail = &r
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ResultWriter collects results from many workers and writes them in
// batches, so the prober never waits on a transaction per check.
type ResultWriter struct {
	db       *DB
	in       chan checker.Result
	maxBatch int
	every    time.Duration
	onError  func(error)
	dropped  atomic.Int64
}

// Dropped is how many results were dropped, in all, because the database
// refused them twice: a metric and a log line report it, so a failing disk
// is never a silent gap in the history.
func (w *ResultWriter) Dropped() int64 { return w.dropped.Load() }

// NewResultWriter returns a writer that flushes every `every` or at maxBatch
// results, whichever comes first. onError is told of failed writes.
func NewResultWriter(db *DB, maxBatch int, every time.Duration, onError func(error)) *ResultWriter {
	return &ResultWriter{db: db, in: make(chan checker.Result, maxBatch*4), maxBatch: maxBatch, every: every, onError: onError}
}

// Add queues a result. It blocks when the queue is full, which slows the
// workers down rather than dropping results.
func (w *ResultWriter) Add(r checker.Result) { w.in <- r }

// Run writes batches until ctx ends, then writes what is queued and returns.
// A failed batch is retried once at the next flush and then dropped with an
// error report, so a broken disk cannot grow memory without bound.
func (w *ResultWriter) Run(ctx context.Context) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	batch := make([]checker.Result, 0, w.maxBatch)
	var retry []checker.Result
	// A batch is written whole even when ctx ends meanwhile: a write is
	// short, and one cut off at shutdown would only be retried.
	write := context.WithoutCancel(ctx)
	flush := func() {
		ctx := write
		if len(retry) > 0 {
			if err := w.db.SaveResults(ctx, retry); err != nil {
				w.dropped.Add(int64(len(retry)))
				w.onError(fmt.Errorf("dropping %d results after a second failed write: %w", len(retry), err))
			}
			retry = nil
		}
		if len(batch) == 0 {
			return
		}
		if err := w.db.SaveResults(ctx, batch); err != nil {
			w.onError(err)
			retry = append([]checker.Result(nil), batch...)
		}
		batch = batch[:0]
	}
	for {
		select {
		case r := <-w.in:
			batch = append(batch, r)
			if len(batch) >= w.maxBatch {
				flush()
			}
		case <-t.C:
			flush()
		case <-ctx.Done():
		drain:
			for {
				select {
				case r := <-w.in:
					batch = append(batch, r)
				default:
					break drain
				}
			}
			flush()
			if len(retry) > 0 {
				flush()
			}
			return
		}
	}
}
