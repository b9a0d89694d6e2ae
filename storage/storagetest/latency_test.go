package storagetest_test

// What the status page reads, the same on every backend: response times
// are those of the checks that got a response, and the checks of the spans
// the prober was offline count for nothing.

import (
	"context"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/storage"
)

// latencyIsResponsesOnly: a failed check's latency (the time it took to
// fail) enters no histogram, maximum, minimum or quantile, in minutes or
// hours; a target whose every check failed has no response time at all.
func latencyIsResponsesOnly(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	const dns, mixed = "https://dns.example/", "https://mixed.example/"
	var first, second []linkwatch.Result
	for i := range 120 { // 10:00 to 10:19, every 10 s
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		// Every check of dns fails on DNS, in 10 to 44 ms.
		r := result(dns, at, time.Duration(10+i%35)*time.Millisecond, linkwatch.StatusDown)
		r.Cause, r.Summary, r.StatusCode, r.Hops = linkwatch.CauseDNS, "lookup dns.example: no such host", 0, nil
		first = append(first, r)
		// mixed: the first check of each minute times out after 3 s, in the
		// first batch; the rest answer in 20 ms, one a minute rate limited
		// in 100 ms, in the second batch, into the same minute rows.
		switch at.Second() {
		case 0:
			first = append(first, result(mixed, at, 3*time.Second, linkwatch.StatusDown))
		case 50:
			d := result(mixed, at, 100*time.Millisecond, linkwatch.StatusDegraded)
			d.Cause, d.StatusCode = linkwatch.CauseRateLimited, 429
			second = append(second, d)
		default:
			second = append(second, result(mixed, at, 20*time.Millisecond, linkwatch.StatusUp))
		}
	}
	must(t, db.SaveResults(ctx, first))
	must(t, db.SaveResults(ctx, second))

	check := func(when string, period time.Duration, rows int) {
		t.Helper()
		for _, k := range []string{dns, mixed} {
			rs, err := db.Rollups(ctx, k, period, t0, t0.Add(time.Hour))
			must(t, err)
			if len(rs) != rows {
				t.Fatalf("%s: %s has %d %s rollups, want %d", when, k, len(rs), period, rows)
			}
			for _, r := range rs {
				var hist int64
				for _, n := range r.Hist {
					hist += n
				}
				want := storage.Rollup{TargetID: k, Start: r.Start, Count: r.Count, Failures: r.Count, Hist: r.Hist} // dns: no latency at all
				if k == mixed {
					want.Failures, want.Degraded, want.LatCount = r.Count/6, r.Count/6, r.Count*5/6
					want.LatMin, want.LatMax, want.LatSum = 20*time.Millisecond, 100*time.Millisecond, time.Duration(r.Count/6)*(4*20+100)*time.Millisecond
				}
				if r != want || hist != want.LatCount {
					t.Errorf("%s: %s rollup of %s = %+v (histogram of %d), want %+v", when, period, k, r, hist, want)
				}
				if q := r.Quantile(1); k == mixed && q != 100*time.Millisecond {
					t.Errorf("%s: %s slowest response of %s = %s, want the 100 ms one, not the 3 s timeout", when, period, k, q)
				}
			}
		}
	}
	check("minutes", time.Minute, 20)
	clk.Set(t0.Add(time.Hour + storage.RollupSettle))
	must(t, db.RollUp(ctx))
	check("hours", time.Hour, 1)

	hist, err := db.LatencyHistograms(ctx, []string{dns, mixed}, t0, clk.Now(), nil)
	must(t, err)
	if _, ok := hist[dns]; ok || hist[mixed].LatCount != 100 || hist[mixed].Count != 120 || hist[mixed].Quantile(0.95) != 100*time.Millisecond {
		t.Errorf("histograms = %+v; want none for %s (no response), 100 responses of 120 checks for %s, p95 100 ms", hist, dns, mixed)
	}
	series, err := db.LatencySeries(ctx, []string{dns, mixed}, t0, clk.Now(), time.Hour, nil)
	must(t, err)
	if _, ok := series[dns]; ok || len(series[mixed]) != 1 || series[mixed][0].LatCount != 100 {
		t.Errorf("series = %+v; want none for %s, one bucket of 100 responses for %s", series, dns, mixed)
	}
}

// unknownSpansAreNotCounted: the checks of an unknown span (the prober was
// offline) count neither for nor against uptime and latency: left out to
// the minute while minutes are kept, and with the hours they touch once
// they are pruned; a span still open runs to the end of the read.
func unknownSpansAreNotCounted(t *testing.T, db storage.Store, clk *Clock) {
	ctx := context.Background()
	const u = "https://a.test/"
	at := func(h, m, s int) time.Time { return time.Date(2026, 11, 22, h, m, s, 0, time.UTC) }
	var batch []linkwatch.Result
	for m := range 4 * 60 { // 10:00 to 13:59, one a minute at :00
		start := at(10, m, 0)
		st, lat := linkwatch.StatusUp, 20*time.Millisecond
		if start.Hour() == 11 && start.Minute() >= 20 && start.Minute() < 40 {
			st, lat = linkwatch.StatusDown, 900*time.Millisecond // the prober's network, not the target
		}
		batch = append(batch, result(u, start, lat, st))
	}
	must(t, db.SaveResults(ctx, batch))
	unknown := []linkwatch.Span{
		{From: at(11, 20, 0), To: at(11, 40, 0)},  // 20 minutes, the failures among them
		{From: at(12, 10, 30), To: at(12, 14, 1)}, // touches 12:10 to 12:14: 5 minutes
		{From: at(13, 50, 0), To: at(14, 1, 0)},   // open: to the end of the read
	}
	type want struct {
		count, failures int64
		latency         map[time.Time]int64 // responses by hour
	}
	check := func(when string, spans []linkwatch.Span, w want) {
		t.Helper()
		days, err := db.DailyStats(ctx, at(0, 0, 0), clk.Now(), spans)
		must(t, err)
		var got want
		for _, d := range days {
			if d.Target == u {
				got.count, got.failures = got.count+d.Count, got.failures+d.Failures
			}
		}
		series, err := db.LatencySeries(ctx, []string{u}, at(10, 0, 0), clk.Now(), time.Hour, spans)
		must(t, err)
		got.latency = map[time.Time]int64{}
		for _, r := range series[u] {
			got.latency[r.Start] = r.LatCount
		}
		hist, err := db.LatencyHistograms(ctx, []string{u}, at(10, 0, 0), clk.Now(), spans)
		must(t, err)
		var sum int64
		for _, n := range w.latency {
			sum += n
		}
		if got.count != w.count || got.failures != w.failures || !mapsEqual(got.latency, w.latency) || hist[u].LatCount != sum {
			t.Errorf("%s: %d checks, %d failures, responses by hour %v (in all %d); want %d, %d, %v (%d)",
				when, got.count, got.failures, got.latency, hist[u].LatCount, w.count, w.failures, w.latency, sum)
		}
	}
	all := want{240, 20, map[time.Time]int64{at(10, 0, 0): 60, at(11, 0, 0): 40, at(12, 0, 0): 60, at(13, 0, 0): 60}}
	known := want{240 - 20 - 5 - 10, 0, map[time.Time]int64{at(10, 0, 0): 60, at(11, 0, 0): 40, at(12, 0, 0): 55, at(13, 0, 0): 50}}

	clk.Set(at(14, 1, 0))
	check("minutes, no span", nil, all)
	check("minutes", unknown, known)
	must(t, db.RollUp(ctx)) // 10:00 to 12:59 in hours, 13:00 in minutes
	check("hours and minutes", unknown, known)
	clk.Set(at(14, 5, 0))
	must(t, db.RollUp(ctx)) // every hour rolled up: the spans' hours are read from their minutes
	check("hours with their minutes kept", unknown, known)
	// The day's minutes pruned (rollups go a whole UTC day at a time, so
	// the next day): the hours the spans touch are left out whole.
	clk.Set(at(24, 5, 0))
	_, err := db.Prune(ctx, storage.Retention{Raw: 48 * time.Hour, Minute: time.Minute, Hour: 90 * 24 * time.Hour})
	must(t, err)
	check("hours, minutes pruned, no span", nil, all)
	check("hours, minutes pruned", unknown, want{60, 0, map[time.Time]int64{at(10, 0, 0): 60}})
}

func mapsEqual(a, b map[time.Time]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
