package storage

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"linkwatch"
)

// RawSampleEvery is how often a target's result is kept as a raw result
// while nothing changes. Every change of status or cause is kept, and the
// minute rollups count every result: keeping each of 8,640 identical results
// a day (with its full detail, for a failing destination) would cost
// megabytes per destination per day and say nothing the rollups do not.
// The results that opened an incident are kept with it as its evidence.
const RawSampleEvery = 10 * time.Minute

// RunKept is how many results of a target are kept raw after a change of
// its status or cause (the change included), and after the first result a
// process sees of it: while a run is this short, every result is kept, so
// an incident engine taking the target over (another replica's host, a
// restart) reads from the raw results exactly how many times in a row it
// has failed or answered (RecentChecks) and goes on counting, instead of
// starting again from zero. It covers the longest run the engine counts
// at the defaults (a flapping incident's 10 successes).
const RunKept = 16

// rawState is what decides whether a target's next result is kept raw.
type rawState struct {
	seen    bool
	last    linkwatch.Status
	cause   linkwatch.Cause
	run     int // results in the current run, as this process saw them
	lastRaw time.Time
}

// keep reports whether r is kept as a raw result, and advances st.
func (st *rawState) keep(r *linkwatch.Result) bool {
	if !st.seen || r.Status != st.last || r.Cause != st.cause {
		st.run = 0
	}
	st.run++
	keep := st.run <= RunKept || r.Start.Sub(st.lastRaw) >= RawSampleEvery
	st.seen, st.last, st.cause = true, r.Status, r.Cause
	if keep {
		st.lastRaw = r.Start
	}
	return keep
}

// MinuteAgg accumulates one series' results over one minute: what a backend
// adds into its minute rollup row (latencies in microseconds, as stored).
// Its latency is that of the checks that got a response (see Rollup).
type MinuteAgg struct {
	Count, Failures, Degraded int64
	LatCount                  int64
	MinUS, MaxUS, SumUS       int64
	Hist                      [HistColumns]int64
}

func (a *MinuteAgg) add(r *linkwatch.Result) {
	a.Count++
	switch r.Status {
	case linkwatch.StatusDown:
		a.Failures++
		return // the time it took to fail is no response time
	case linkwatch.StatusDegraded:
		a.Degraded++
	}
	us := r.Latency.Microseconds()
	if a.LatCount == 0 || us < a.MinUS {
		a.MinUS = us
	}
	a.MaxUS = max(a.MaxUS, us)
	a.LatCount++
	a.SumUS += us
	a.Hist[histBucket(r.Latency)]++
}

func histBucket(d time.Duration) int {
	for i, b := range LatencyBuckets {
		if d < b {
			return i
		}
	}
	return len(LatencyBuckets)
}

// MinuteKey names a minute rollup: the series (Result.SeriesID) and the
// minute's start in Unix seconds.
type MinuteKey struct {
	Series string
	Start  int64
}

// Sampler applies the raw-result rule across batches: every change of a
// target's status or cause is kept raw, and a sample every RawSampleEvery.
// It remembers each target's last result; a batch's view becomes its own
// only on Commit, once the batch is stored. One batch at a time uses it
// (DB.saveMu).
type Sampler struct {
	states map[string]rawState // target id -> what decides raw keeping
}

// Batch is what one write of results stores: which results are kept raw,
// and every result counted into the minute of its series.
type Batch struct {
	Keep    []bool // Keep[i]: results[i] is stored as a raw result
	Minutes map[MinuteKey]*MinuteAgg
	states  map[string]rawState // this batch's view; the Sampler's on Commit
}

// Plan decides how results are stored.
func (s *Sampler) Plan(results []linkwatch.Result) *Batch {
	b := &Batch{Keep: make([]bool, len(results)), Minutes: map[MinuteKey]*MinuteAgg{}, states: map[string]rawState{}}
	for i := range results {
		r := &results[i]
		k := MinuteKey{r.SeriesID(), r.Start.Unix() / 60 * 60}
		a := b.Minutes[k]
		if a == nil {
			a = &MinuteAgg{}
			b.Minutes[k] = a
		}
		a.add(r)
		st, ok := b.states[r.TargetID]
		if !ok {
			st = s.states[r.TargetID]
		}
		b.Keep[i] = st.keep(r)
		b.states[r.TargetID] = st
	}
	return b
}

// Commit makes a stored batch's choices the base of the next.
func (s *Sampler) Commit(b *Batch) {
	if s.states == nil {
		s.states = map[string]rawState{}
	}
	maps.Copy(s.states, b.states)
}

// ResultSaver stores a batch of results in one transaction.
type ResultSaver interface {
	SaveResults(ctx context.Context, results []linkwatch.Result) error
}

// ResultWriter collects results from many workers and writes them in
// batches, so the prober never waits on a transaction per check.
type ResultWriter struct {
	store    ResultSaver
	in       chan linkwatch.Result
	maxBatch int
	every    time.Duration
	report   func(error)
	dropped  atomic.Int64
}

// Dropped is how many results were dropped, in all, because the database
// refused them twice: a metric and a log line report it, so a failing disk
// is never a silent gap in the history.
func (w *ResultWriter) Dropped() int64 { return w.dropped.Load() }

// NewResultWriter returns a writer that flushes every `every` or at maxBatch
// results, whichever comes first. report is told of every write: its
// error, or nil when the batch was written (so a log that holds back a
// repeating error can say the writes recovered).
func NewResultWriter(store ResultSaver, maxBatch int, every time.Duration, report func(error)) *ResultWriter {
	return &ResultWriter{store: store, in: make(chan linkwatch.Result, maxBatch*4), maxBatch: maxBatch, every: every, report: report}
}

// Add queues a result. It blocks when the queue is full, which slows the
// workers down rather than dropping results.
func (w *ResultWriter) Add(r linkwatch.Result) { w.in <- r }

// Run writes batches until ctx ends, then writes what is queued and returns.
// A failed batch is retried once at the next flush and then dropped with an
// error report, so a broken disk cannot grow memory without bound.
func (w *ResultWriter) Run(ctx context.Context) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	batch := make([]linkwatch.Result, 0, w.maxBatch)
	var retry []linkwatch.Result
	// A batch is written whole even when ctx ends meanwhile: a write is
	// short, and one cut off at shutdown would only be retried.
	write := context.WithoutCancel(ctx)
	flush := func() {
		ctx := write
		if len(retry) > 0 {
			err := w.store.SaveResults(ctx, retry)
			if err != nil {
				w.dropped.Add(int64(len(retry)))
				err = fmt.Errorf("dropping %d results after a second failed write: %w", len(retry), err)
			}
			w.report(err)
			retry = nil
		}
		if len(batch) == 0 {
			return
		}
		err := w.store.SaveResults(ctx, batch)
		if err != nil {
			retry = append([]linkwatch.Result(nil), batch...)
		}
		w.report(err)
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

// minuteColumns are a minute rollup's columns as SaveResults writes them.
var minuteColumns = append([]string{"bucket", "target_id", "count", "failures", "degraded", "lat_count", "lat_min_us", "lat_max_us", "lat_sum_us"}, histList("h%d")...)

// addMinutes adds a batch's minutes into their rows. A row without a
// response time yet has no minimum to keep.
var addMinutes = `ON CONFLICT (bucket, target_id) DO UPDATE SET count = rollup_minute.count + excluded.count,
	failures = rollup_minute.failures + excluded.failures, degraded = rollup_minute.degraded + excluded.degraded,
	lat_count = rollup_minute.lat_count + excluded.lat_count,
	lat_min_us = CASE WHEN rollup_minute.lat_count = 0 THEN excluded.lat_min_us WHEN excluded.lat_count = 0 THEN rollup_minute.lat_min_us
		ELSE LEAST(rollup_minute.lat_min_us, excluded.lat_min_us) END,
	lat_max_us = GREATEST(rollup_minute.lat_max_us, excluded.lat_max_us), lat_sum_us = rollup_minute.lat_sum_us + excluded.lat_sum_us, ` +
	strings.Join(histList("h%d = rollup_minute.h%d + excluded.h%d"), ", ")

// SaveResults writes a batch of results in one transaction: every result
// into the minute rollup of its series (Result.SeriesID), and as a raw
// result what the Sampler keeps. Targets and minutes are written in key
// order, so replicas writing the same rows lock them in one order.
func (db *DB) SaveResults(ctx context.Context, results []linkwatch.Result) error {
	if len(results) == 0 {
		return nil
	}
	db.saveMu.Lock()
	defer db.saveMu.Unlock()
	plan := db.sampler.Plan(results)
	fresh := map[string]int64{}
	id := func(key string) int64 {
		if id, ok := fresh[key]; ok {
			return id
		}
		return db.targets[key]
	}
	err := db.update(ctx, "save results", func(tx *Tx) error {
		db.addTargets(ctx, tx, fresh, results)
		var raw [][]any
		for i := range results {
			if !plan.Keep[i] {
				continue
			}
			r := &results[i]
			var cause, summary, detail any // NULL for a success
			if r.Status != linkwatch.StatusUp {
				cause, summary, detail = string(r.Cause), r.Summary, JSON{r}
			}
			raw = append(raw, []any{id(r.TargetID), r.Start.UnixMilli(), r.Latency.Microseconds(), string(r.Status), int64(r.StatusCode), cause, summary, detail})
		}
		db.d.Insert(ctx, tx, Insert{Table: "results", Rows: raw,
			Cols: []string{"target_id", "started_at", "latency_us", "status", "status_code", "cause", "summary", "detail"}})
		var minutes [][]any
		for k, a := range plan.Minutes {
			minutes = append(minutes, append([]any{k.Start, id(k.Series), a.Count, a.Failures, a.Degraded, a.LatCount, a.MinUS, a.MaxUS, a.SumUS}, hist(a)...))
		}
		slices.SortFunc(minutes, func(x, y []any) int {
			return cmp.Or(cmp.Compare(x[0].(int64), y[0].(int64)), cmp.Compare(x[1].(int64), y[1].(int64)))
		})
		db.d.Insert(ctx, tx, Insert{Table: "rollup_minute", Cols: minuteColumns, Rows: minutes, Then: addMinutes})
		return nil
	})
	if err == nil {
		maps.Copy(db.targets, fresh)
		db.sampler.Commit(plan)
	}
	return err
}

// addTargets gives every target and series of results not known yet its
// id, creating the rows: new ids go to fresh, cached only once the
// transaction commits.
func (db *DB) addTargets(ctx context.Context, tx *Tx, fresh map[string]int64, results []linkwatch.Result) {
	want := map[string][]any{}
	add := func(key string, kind linkwatch.TargetKind, url string, over bool) {
		if _, known := db.targets[key]; !known && (over || want[key] == nil) {
			want[key] = []any{key, string(kind), url}
		}
	}
	for _, r := range results {
		add(r.TargetID, r.Kind, r.URL, true)
		add(r.SeriesID(), r.Kind, r.SeriesID(), false)
	}
	rows := make([][]any, 0, len(want))
	for _, key := range slices.Sorted(maps.Keys(want)) {
		rows = append(rows, want[key])
	}
	db.d.Insert(ctx, tx, Insert{Table: "targets", Cols: []string{"key", "kind", "url"}, Rows: rows,
		Then: `ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, url = excluded.url RETURNING key, id`,
		Scan: func(scan func(...any) error) error {
			var key string
			var id int64
			err := scan(&key, &id)
			fresh[key] = id
			return err
		}})
}

func hist(a *MinuteAgg) []any {
	out := make([]any, len(a.Hist))
	for i, h := range a.Hist {
		out[i] = h
	}
	return out
}

// RecentChecks returns, for each of the targets, up to limit of its newest
// raw results started at or after since, oldest first, as the prober made
// them (failures with their detail; successes with the narrow columns
// stored). Within RunKept results of a change they are every check made
// (Sampler), which is what the incident engine reads back to continue a
// target's run of failures or successes.
func (db *DB) RecentChecks(ctx context.Context, keys []string, since time.Time, limit int) (map[string][]linkwatch.Result, error) {
	out := map[string][]linkwatch.Result{}
	if len(keys) == 0 || limit <= 0 {
		return out, nil
	}
	err := each(ctx, db.read, `SELECT key, kind, url, started_at, latency_us, status, status_code, cause, summary, detail FROM (
			SELECT t.key, t.kind, t.url, r.started_at, r.latency_us, r.status, r.status_code, COALESCE(r.cause, '') AS cause, COALESCE(r.summary, '') AS summary, r.detail,
				row_number() OVER (PARTITION BY r.target_id ORDER BY r.started_at DESC) AS n
			FROM results r JOIN targets t ON t.id = r.target_id WHERE t.key = ANY($1) AND r.started_at >= $2) AS recent
		WHERE n <= $3 ORDER BY key, started_at`, []any{keys, since.UnixMilli(), limit},
		func(row scanner) error {
			var r linkwatch.Result
			var ms, us int64
			var code int64
			var detail *linkwatch.Result
			if err := row.Scan(&r.TargetID, &r.Kind, &r.URL, &ms, &us, &r.Status, &code, &r.Cause, &r.Summary, jsonOf(&detail)); err != nil {
				return err
			}
			r.Start, r.Latency, r.StatusCode = time.UnixMilli(ms).UTC(), time.Duration(us)*time.Microsecond, int(code)
			if detail != nil {
				r = *detail
			}
			out[r.TargetID] = append(out[r.TargetID], r)
			return nil
		})
	return out, db.wrap("read recent checks", err)
}
