package datadog_test

import (
	"errors"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/alerting/datadog"
	"linkwatch/checker/schedule"
)

// metricLine is one DogStatsD line: name:value|type|#tags[|other fields].
type metricLine struct {
	raw   string
	name  string
	value string
	typ   string
	tags  []string
}

func parseLine(t *testing.T, raw string) metricLine {
	t.Helper()
	parts := strings.Split(raw, "|")
	name, value, ok := strings.Cut(parts[0], ":")
	if !ok || len(parts) < 2 {
		t.Fatalf("malformed line %q", raw)
	}
	l := metricLine{raw: raw, name: name, value: value, typ: parts[1]}
	for _, p := range parts[2:] {
		if tags, ok := strings.CutPrefix(p, "#"); ok {
			l.tags = strings.Split(tags, ",")
		}
	}
	return l
}

// agent is a fake DogStatsD agent on loopback.
type agent struct {
	conn net.PacketConn
}

func newAgent(t *testing.T) *agent {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &agent{conn: conn}
}

func (a *agent) addr() string { return a.conn.LocalAddr().String() }

// collect reads datagrams until done is satisfied by the lines so far, or
// 2 s have passed.
func (a *agent) collect(t *testing.T, done func([]metricLine) bool) []metricLine {
	t.Helper()
	var lines []metricLine
	deadline := time.Now().Add(2 * time.Second)
	buf := make([]byte, 65536)
	for !done(lines) {
		if err := a.conn.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, _, err := a.conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("timed out waiting for metrics; got:\n%s", dump(lines))
			}
			t.Fatal(err)
		}
		for raw := range strings.SplitSeq(string(buf[:n]), "\n") {
			if raw != "" {
				lines = append(lines, parseLine(t, raw))
			}
		}
	}
	return lines
}

func dump(lines []metricLine) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// hasAll reports whether every named metric has arrived at least n times.
func hasAll(n int, names ...string) func([]metricLine) bool {
	return func(lines []metricLine) bool {
		for _, name := range names {
			if len(byName(lines, name)) < n {
				return false
			}
		}
		return true
	}
}

func byName(lines []metricLine, name string) []metricLine {
	var out []metricLine
	for _, l := range lines {
		if l.name == name {
			out = append(out, l)
		}
	}
	return out
}

func newMetrics(t *testing.T, a *agent, perTarget bool) *datadog.Metrics {
	t.Helper()
	m, err := datadog.New(datadog.Options{
		Addr:          a.addr(),
		Tags:          []string{"env:test"},
		PerTargetTags: perTarget,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func hasTagPrefix(tags []string, prefix string) bool {
	return slices.ContainsFunc(tags, func(tag string) bool { return strings.HasPrefix(tag, prefix) })
}

func TestMetricsLines(t *testing.T) {
	a := newAgent(t)
	m := newMetrics(t, a, false)

	m.Result(linkwatch.Result{
		TargetID: "https://shop.example/p?a=1,b=2",
		Kind:     linkwatch.TargetDestination,
		URL:      "https://shop.example/p?a=1,b=2",
		Latency:  1500 * time.Millisecond,
		Status:   linkwatch.StatusDown,
		Cause:    linkwatch.CauseDNS,
	})
	m.Result(linkwatch.Result{
		TargetID: "self:/shop/buy",
		Kind:     linkwatch.TargetSelfCheck,
		Latency:  20 * time.Millisecond,
		Status:   linkwatch.StatusUp,
	})
	m.TargetCounts()
	m.Scheduler(schedule.Stats{Targets: 42, Skipped: 3, BackedOff: 5, LagP50: 2 * time.Millisecond, LagP99: 250 * time.Microsecond, LagMax: time.Second})
	m.OpenIncidents(4)
	m.OutboxPending(7)
	m.Delivery("webhook:ops", "sent")
	m.Redirects(9)
	m.StorageUp(false)
	m.ClicksDropped(12)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	want := []struct {
		name, value, typ string
		tags             []string
	}{
		{"check.latency", "1500", "d", []string{"kind:destination"}},
		{"check.latency", "20", "d", []string{"kind:self_check"}},
		{"check.targets", "1", "g", []string{"kind:destination", "status:down"}},
		{"check.targets", "0", "g", []string{"kind:destination", "status:up"}},
		{"check.targets", "0", "g", []string{"kind:destination", "status:degraded"}},
		{"check.targets", "1", "g", []string{"kind:self_check", "status:up"}},
		{"check.targets", "0", "g", []string{"kind:self_check", "status:down"}},
		{"check.results", "1", "c", []string{"status:down", "cause:dns", "kind:destination"}},
		{"check.results", "1", "c", []string{"status:up", "cause:none", "kind:self_check"}},
		{"scheduler.lag.p50", "2", "g", nil},
		{"scheduler.lag.p99", "0.25", "g", nil},
		{"scheduler.lag.max", "1000", "g", nil},
		{"scheduler.targets", "42", "g", nil},
		{"scheduler.skipped", "3", "c", nil},
		{"scheduler.backed_off", "5", "c", nil},
		{"incidents.open", "4", "g", nil},
		{"outbox.pending", "7", "g", nil},
		{"deliveries", "1", "c", []string{"channel:webhook:ops", "result:sent"}},
		{"redirects.served", "9", "c", nil},
		{"storage.up", "0", "g", nil},
		{"clicks.dropped", "12", "c", nil},
	}
	var names []string
	for _, w := range want {
		names = append(names, "linkwatch."+w.name)
	}
	lines := a.collect(t, hasAll(1, names...))

	for _, w := range want {
		t.Run(w.name+"/"+strings.Join(w.tags, ","), func(t *testing.T) {
			var found bool
			for _, l := range byName(lines, "linkwatch."+w.name) {
				if !slices.Contains(l.tags, "env:test") {
					t.Errorf("%q: no global tag", l.raw)
				}
				if hasTagPrefix(l.tags, "target:") {
					t.Errorf("%q: target tag without PerTargetTags", l.raw)
				}
				if slices.ContainsFunc(l.tags, func(tag string) bool { return strings.Contains(tag, "shop.example") }) {
					t.Errorf("%q: URL in tags", l.raw)
				}
				if l.typ != w.typ {
					t.Errorf("%q: type %q, want %q", l.raw, l.typ, w.typ)
				}
				tagsMatch := true
				for _, tag := range w.tags {
					tagsMatch = tagsMatch && slices.Contains(l.tags, tag)
				}
				if tagsMatch && l.value == w.value {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s:%s|%s with tags %v in:\n%s", w.name, w.value, w.typ, w.tags, dump(lines))
			}
		})
	}
	// Without per-target tags there is no per-target series at all: one
	// check.up gauge for many targets would interleave their values.
	if up := byName(lines, "linkwatch.check.up"); len(up) > 0 {
		t.Errorf("check.up sent without PerTargetTags: %q", up[0].raw)
	}
}

func TestMetricsTargetCounts(t *testing.T) {
	a := newAgent(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	m, err := datadog.New(datadog.Options{Addr: a.addr(), StaleAfter: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dest := func(id string, st linkwatch.Status) {
		m.Result(linkwatch.Result{TargetID: id, Kind: linkwatch.TargetDestination, Status: st})
	}
	dest("https://a.example/", linkwatch.StatusUp)
	dest("https://b.example/", linkwatch.StatusDown)
	dest("https://b.example/", linkwatch.StatusUp) // its latest result counts
	dest("https://c.example/", linkwatch.StatusDegraded)
	now = now.Add(50 * time.Second)
	dest("https://d.example/", linkwatch.StatusDown)
	m.TargetCounts() // a, b, c, d
	now = now.Add(20 * time.Second)
	m.TargetCounts() // a, b and c are 70 s old: stale (removed by a reload)

	lines := a.collect(t, func(l []metricLine) bool { return len(byName(l, "linkwatch.check.targets")) >= 6 })
	var got []string
	for _, l := range byName(lines, "linkwatch.check.targets") {
		got = append(got, strings.Join(l.tags, ",")+"="+l.value)
	}
	want := []string{
		"kind:destination,status:up=2", "kind:destination,status:down=1", "kind:destination,status:degraded=1",
		"kind:destination,status:up=0", "kind:destination,status:down=1", "kind:destination,status:degraded=0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("check.targets = %v, want %v", got, want)
	}
}

func TestMetricsTagsAreSanitized(t *testing.T) {
	a := newAgent(t)
	m := newMetrics(t, a, true)
	for _, id := range []string{
		"https://Shop.example/p?a=1&b=2+3#frag",
		"https://shop.example/x,y|z w\nnext",
		"https://ünïcode.example/" + strings.Repeat("x", 300),
	} {
		m.Result(linkwatch.Result{TargetID: id, Kind: linkwatch.TargetDestination, Status: linkwatch.StatusUp})
	}
	m.Delivery("webhook:Ops Team", "sent")
	m.Close()
	lines := a.collect(t, func(l []metricLine) bool {
		return len(byName(l, "linkwatch.check.up")) >= 3 && len(byName(l, "linkwatch.deliveries")) >= 1
	})
	valid := regexp.MustCompile(`^[a-z][a-z0-9_\-:./]*$`)
	var targets []string
	for _, l := range lines {
		for _, tag := range l.tags {
			if !valid.MatchString(tag) || len(tag) > 200 {
				t.Errorf("%q: tag %q is not a DataDog tag", l.raw, tag)
			}
			if strings.HasPrefix(tag, "target:") {
				targets = append(targets, tag)
			}
		}
	}
	for _, want := range []string{"target:https://shop.example/p_a_1_b_2_3_frag", "target:https://shop.example/x_y_z_w_next"} {
		if !slices.Contains(targets, want) {
			t.Errorf("no tag %q in %v", want, targets)
		}
	}
	if d := byName(lines, "linkwatch.deliveries"); len(d) == 0 || !slices.Contains(d[0].tags, "channel:webhook:ops_team") {
		t.Errorf("deliveries tags: %v", d)
	}
}

func TestMetricsPerTargetTags(t *testing.T) {
	a := newAgent(t)
	m := newMetrics(t, a, true)
	m.Result(linkwatch.Result{
		TargetID: "https://shop.example/p?a=1,b=2|x",
		Kind:     linkwatch.TargetDestination,
		Status:   linkwatch.StatusDegraded,
		Cause:    linkwatch.CauseRateLimited,
	})
	m.Close()

	lines := a.collect(t, hasAll(1, "linkwatch.check.up", "linkwatch.check.results", "linkwatch.check.latency"))
	up := byName(lines, "linkwatch.check.up")[0]
	if up.value != "0" {
		t.Errorf("degraded check.up = %s, want 0", up.value)
	}
	// The ',' and '|' in the ID would split the tag or the line; '?' and
	// '=' are not tag characters.
	if !slices.Contains(up.tags, "target:https://shop.example/p_a_1_b_2_x") {
		t.Errorf("%q: no escaped target tag", up.raw)
	}
	for _, name := range []string{"linkwatch.check.results", "linkwatch.check.latency"} {
		for _, l := range byName(lines, name) {
			if hasTagPrefix(l.tags, "target:") {
				t.Errorf("%q: target tag outside check.up", l.raw)
			}
		}
	}
}

func TestMetricsDeltas(t *testing.T) {
	a := newAgent(t)
	m := newMetrics(t, a, false)

	for _, skipped := range []int64{5, 8, 8, 2} { // 2: the scheduler restarted
		m.Scheduler(schedule.Stats{Skipped: skipped})
	}
	for _, total := range []int64{10, 15, 15, 3} {
		m.Redirects(total)
	}
	m.Close()

	lines := a.collect(t, hasAll(4, "linkwatch.scheduler.skipped", "linkwatch.redirects.served"))
	tests := []struct {
		name string
		want []string
	}{
		{"linkwatch.scheduler.skipped", []string{"5", "3", "0", "2"}},
		{"linkwatch.redirects.served", []string{"10", "5", "0", "3"}},
	}
	for _, tt := range tests {
		var got []string
		for _, l := range byName(lines, tt.name) {
			if l.typ != "c" {
				t.Errorf("%q: not a count", l.raw)
			}
			got = append(got, l.value)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMetricsNilAndClosed(t *testing.T) {
	var m *datadog.Metrics
	var r alerting.Recorder = m
	r.Delivery("slack", "sent")
	m.Result(linkwatch.Result{Kind: linkwatch.TargetCanary})
	m.Scheduler(schedule.Stats{Skipped: 1})
	m.OpenIncidents(1)
	m.OutboxPending(1)
	m.Redirects(1)
	if err := m.Close(); err != nil {
		t.Errorf("nil Close: %v", err)
	}
	if m.Errors() != 0 {
		t.Errorf("nil Errors = %d", m.Errors())
	}

	a := newAgent(t)
	m = newMetrics(t, a, false)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	m.OpenIncidents(1) // after Close: nothing sent, no panic
	m.Delivery("slack", "sent")
}

func TestMetricsNoAddr(t *testing.T) {
	if _, err := datadog.New(datadog.Options{}); err == nil {
		t.Error("NewMetrics without Addr: no error")
	}
}

func TestMetricsConcurrent(t *testing.T) {
	a := newAgent(t)
	m := newMetrics(t, a, true)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				m.Result(linkwatch.Result{TargetID: "t", Kind: linkwatch.TargetDestination, Status: linkwatch.StatusUp})
				m.Scheduler(schedule.Stats{Skipped: int64(i*50 + j)})
				m.Redirects(int64(j))
				m.Delivery("slack", "sent")
				m.OpenIncidents(j)
			}
		})
	}
	wg.Wait()
	m.Close()
	lines := a.collect(t, hasAll(1, "linkwatch.deliveries"))
	if len(lines) == 0 {
		t.Fatal("no metrics")
	}
}

func TestMetricsFlushesWithoutClose(t *testing.T) {
	a := newAgent(t)
	m := newMetrics(t, a, false)
	m.OutboxPending(3)
	lines := a.collect(t, hasAll(1, "linkwatch.outbox.pending")) // within the 2 s bound
	if got := byName(lines, "linkwatch.outbox.pending")[0]; got.value != "3" || got.typ != "g" {
		t.Errorf("got %q", got.raw)
	}
}
