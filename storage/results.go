package storage

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"linkwatch"
)

// StoredResult is a raw result as stored: the narrow columns always, the full
// Result only for failures.
type StoredResult struct {
	TargetID   string
	Start      time.Time
	Latency    time.Duration
	Status     linkwatch.Status
	StatusCode int
	Cause      linkwatch.Cause
	Summary    string
	Detail     *linkwatch.Result // nil for successes
}

// Committed is state kept in memory about rows a transaction wrote. A
// transaction collects its changes apart and merges them only once it has
// committed, so a rollback never leaves the cache ahead of the database.
type Committed[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]V
}

// Get returns the committed value of k.
func (c *Committed[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

// Merge adds what a committed transaction wrote.
func (c *Committed[K, V]) Merge(fresh map[K]V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[K]V{}
	}
	for k, v := range fresh {
		c.m[k] = v
	}
}

// RawSampleEvery is how often a target's result is kept as a raw result
// while nothing changes. Every change of status or cause is kept, and the
// minute rollups count every result: keeping each of 8,640 identical results
// a day (with its full detail, for a failing destination) would cost
// megabytes per destination per day and say nothing the rollups do not.
// The results that opened an incident are kept with it as its evidence.
const RawSampleEvery = 10 * time.Minute

// rawState is what decides whether a target's next result is kept raw.
type rawState struct {
	seen    bool
	last    linkwatch.Status
	cause   linkwatch.Cause
	lastRaw time.Time
}

// keep reports whether r is kept as a raw result, and advances st.
func (st *rawState) keep(r *linkwatch.Result) bool {
	keep := !st.seen || r.Status != st.last || r.Cause != st.cause || r.Start.Sub(st.lastRaw) >= RawSampleEvery
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
// only on Commit, once the batch is stored.
type Sampler struct {
	states Committed[string, rawState] // target id -> what decides raw keeping
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
			st, _ = s.states.Get(r.TargetID)
		}
		b.Keep[i] = st.keep(r)
		b.states[r.TargetID] = st
	}
	return b
}

// Commit makes a stored batch's choices the base of the next.
func (s *Sampler) Commit(b *Batch) { s.states.Merge(b.states) }

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
