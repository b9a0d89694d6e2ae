package shard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"linkwatch"
)

func hosts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("host%d.example", i)
	}
	return out
}

func split(keys, members []string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		out[k] = Owner(k, members)
	}
	return out
}

func TestOwnerStableAndOrderFree(t *testing.T) {
	t.Parallel()
	members := []string{"a-1", "b-2", "c-3"}
	first := split(hosts(1000), members)
	again := split(hosts(1000), []string{"c-3", "a-1", "b-2"})
	for k, o := range first {
		if again[k] != o {
			t.Fatalf("%s: owner %s, then %s with the members in another order", k, o, again[k])
		}
	}
	if Owner("x", nil) != "" {
		t.Error("a key has an owner among no members")
	}
}

func TestOwnerBalanced(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2, 3, 5} {
		var members []string
		for i := range n {
			members = append(members, fmt.Sprintf("replica-%d-%x", i, i*7919))
		}
		counts := map[string]int{}
		const keys = 20000
		for _, o := range split(hosts(keys), members) {
			counts[o]++
		}
		want := float64(keys) / float64(n)
		for _, m := range members {
			if dev := math.Abs(float64(counts[m])-want) / want; dev > 0.05 {
				t.Errorf("%d members: %s owns %d keys, %.1f%% from the fair %v", n, m, counts[m], 100*dev, want)
			}
		}
	}
}

func TestOwnerMovesLittle(t *testing.T) {
	t.Parallel()
	keys := hosts(10000)
	three := []string{"a", "b", "c"}
	before := split(keys, three)
	// A member joins: only keys that move go to it, about a quarter of them.
	after := split(keys, append(slices.Clone(three), "d"))
	moved := 0
	for k, o := range after {
		if o != before[k] {
			moved++
			if o != "d" {
				t.Fatalf("%s moved from %s to %s, not to the member that joined", k, before[k], o)
			}
		}
	}
	if moved < 2200 || moved > 2800 {
		t.Errorf("%d of 10000 keys moved to the fourth member; want about 2500", moved)
	}
	// A member leaves: only its keys move.
	after = split(keys, []string{"a", "c"})
	for k, o := range after {
		if before[k] != "b" && o != before[k] {
			t.Fatalf("%s moved from %s to %s though its owner stayed", k, before[k], o)
		}
	}
}

func TestAssignmentKeepsHostsTogether(t *testing.T) {
	t.Parallel()
	a := Assignment{Self: "a", Members: []string{"a", "b", "c"}}
	var targets []linkwatch.Target
	for h := range 30 {
		for p := range 5 {
			u := fmt.Sprintf("https://h%d.example/p%d", h, p)
			targets = append(targets, linkwatch.Target{ID: u, Kind: linkwatch.TargetDestination, URL: u})
		}
	}
	for p := range 4 {
		targets = append(targets, linkwatch.Target{ID: fmt.Sprintf("self:/p/%d", p), Kind: linkwatch.TargetSelfCheck, URL: fmt.Sprintf("http://127.0.0.1:1/p/%d", p)})
	}
	canary := linkwatch.Target{ID: "canary:https://c.example/", Kind: linkwatch.TargetCanary, URL: "https://c.example/"}
	targets = append(targets, canary)
	byHost := map[string]map[string]bool{}
	owned := map[string]int{}
	for _, self := range a.Members {
		as := Assignment{Self: self, Members: a.Members}
		for _, tg := range as.Filter(targets) {
			k, _ := Key(tg)
			if byHost[k] == nil {
				byHost[k] = map[string]bool{}
			}
			byHost[k][self] = true
			owned[tg.ID]++
			if !as.OwnsID(tg.ID) {
				t.Errorf("%s: owns %s by target but not by its id", self, tg.ID)
			}
		}
	}
	for k, owners := range byHost {
		if k != "" && len(owners) != 1 {
			t.Errorf("host %q is split over %v", k, owners)
		}
	}
	for _, tg := range targets {
		want := 1
		if tg.Kind == linkwatch.TargetCanary {
			want = 3 // every replica checks its own network
		}
		if owned[tg.ID] != want {
			t.Errorf("%s is checked by %d replicas, want %d", tg.ID, owned[tg.ID], want)
		}
	}
	if len(Alone("x").Filter(targets)) != len(targets) {
		t.Error("a replica alone does not own every target")
	}
}

// fakeStore is a heartbeat table with a clock (the database's), and the
// set of members whose session (their lock) is gone.
type fakeStore struct {
	mu   sync.Mutex
	rows map[string]linkwatch.Member
	dead map[string]bool
	now  func() time.Time
	fail error
}

func (s *fakeStore) Heartbeat(_ context.Context, m linkwatch.Member) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	m.HeartbeatAt = s.now()
	if old, ok := s.rows[m.ID]; ok {
		m.StartedAt = old.StartedAt
	} else if m.StartedAt.IsZero() {
		m.StartedAt = m.HeartbeatAt // joined: storage.DB.Heartbeat's started_at
	}
	s.rows[m.ID] = m
	return nil
}

func (s *fakeStore) Members(_ context.Context, region string, within time.Duration) ([]linkwatch.Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	since := s.now().Add(-within)
	var out []linkwatch.Member
	for _, m := range s.rows {
		if m.Region == region && m.HeartbeatAt.After(since) && !s.dead[m.ID] {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *fakeStore) Leave(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rows, id)
	return nil
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestMembershipLeaseAndDeadSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	store := &fakeStore{rows: map[string]linkwatch.Member{}, dead: map[string]bool{}, now: clk.Now}
	const interval = 10 * time.Second
	var changes []Assignment
	newMember := func(id, region string) *Membership {
		return New(store, linkwatch.Member{ID: id, Region: region}, Options{Interval: interval, Now: clk.Now,
			OnChange: func(a Assignment) {
				if id == "a" {
					changes = append(changes, a)
				}
			}})
	}
	a, b, c, eu := newMember("a", ""), newMember("b", ""), newMember("c", ""), newMember("e", "eu-west")
	if got := a.Assignment(); !slices.Equal(got.Members, []string{"a"}) {
		t.Fatalf("before any heartbeat: %+v, want a alone (owning everything)", got)
	}
	for _, m := range []*Membership{a, b, c, eu} {
		if err := m.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(interval) // past b's and c's joining (TestJoinHandsHostsOver)
	for _, m := range []*Membership{c, a} {
		must(t, m.Tick(ctx))
	}
	if got := a.Assignment(); !slices.Equal(got.Members, []string{"a", "b", "c"}) {
		t.Fatalf("three members of one region: %+v (the other region's member must not count)", got)
	}
	if got := eu.Assignment(); !slices.Equal(got.Members, []string{"e"}) {
		t.Fatalf("the eu-west member alone in its region: %+v", got)
	}
	// c hangs: its heartbeat row stays, until the lease of 3 intervals ends.
	for range 8 { // 8 heartbeats of a and b, interval/3 apart: 2.67 intervals
		clk.Add(interval / 3)
		must(t, a.Tick(ctx))
		must(t, b.Tick(ctx))
	}
	if got := a.Assignment(); !slices.Equal(got.Members, []string{"a", "b", "c"}) {
		t.Fatalf("c dropped within its lease: %+v", got)
	}
	clk.Add(interval / 2)
	must(t, a.Tick(ctx))
	if got := a.Assignment(); !slices.Equal(got.Members, []string{"a", "b"}) {
		t.Fatalf("c kept past its lease: %+v", got)
	}
	// b is killed: its session lock is gone, and it is dead at once.
	store.dead["b"] = true
	clk.Add(time.Second)
	must(t, a.Tick(ctx))
	if got := a.Assignment(); !slices.Equal(got.Members, []string{"a"}) {
		t.Fatalf("a member whose session died is still live: %+v", got)
	}
	// A failed heartbeat keeps the split, and says so.
	store.fail = errors.New("database gone")
	if err := a.Tick(ctx); err == nil {
		t.Fatal("a failed heartbeat was not reported")
	}
	if got := a.Assignment(); !slices.Equal(got.Members, []string{"a"}) {
		t.Fatalf("a failed heartbeat changed the split: %+v", got)
	}
	store.fail = nil
	// c comes back, then leaves cleanly: the row is gone at once.
	must(t, c.Tick(ctx))
	must(t, a.Tick(ctx))
	must(t, store.Leave(ctx, "c"))
	must(t, a.Tick(ctx))
	want := [][]string{{"a", "b", "c"}, {"a", "b"}, {"a"}, {"a", "c"}, {"a"}}
	if len(changes) != len(want) {
		t.Fatalf("a saw %d changes, want %d: %+v", len(changes), len(want), changes)
	}
	for i, ch := range changes {
		if !slices.Equal(ch.Members, want[i]) {
			t.Errorf("change %d: %v, want %v", i, ch.Members, want[i])
		}
	}
}

func TestRunLeavesOnStop(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	store := &fakeStore{rows: map[string]linkwatch.Member{}, dead: map[string]bool{}, now: clk.Now}
	m := New(store, linkwatch.Member{ID: "a"}, Options{Interval: time.Second, Now: clk.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		store.mu.Lock()
		_, ok := store.rows["a"]
		store.mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat row")
		}
		time.Sleep(time.Millisecond) // a poll of the database, written by a goroutine in real time
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(store.rows) != 0 {
		t.Errorf("rows left after Run stopped: %v", store.rows)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestAPIListsLiveReplicas(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	store := &fakeStore{rows: map[string]linkwatch.Member{}, dead: map[string]bool{}, now: clk.Now}
	a := New(store, linkwatch.Member{ID: "b", Addr: "10.0.0.2:8080"}, Options{Interval: 10 * time.Second, Now: clk.Now})
	for _, m := range []*Membership{a, New(store, linkwatch.Member{ID: "a"}, Options{Now: clk.Now}), New(store, linkwatch.Member{ID: "e", Region: "eu-west"}, Options{Now: clk.Now})} {
		must(t, m.Tick(context.Background()))
	}
	clk.Add(10 * time.Second) // past a's and b's joining
	must(t, a.Tick(context.Background()))
	store.dead["x"] = true
	must(t, store.Heartbeat(context.Background(), linkwatch.Member{ID: "x"})) // killed: not live
	api := NewAPI(liveOf{store}, a, slog.New(slog.DiscardHandler))
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/admin/replicas", nil))
	var got struct {
		Self     string `json:"self"`
		LeaseMS  int64  `json:"lease_ms"`
		Sharing  int    `json:"sharing"`
		Replicas []struct {
			ID, Region, Addr string
			Self             bool
		} `json:"replicas"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("%d %s: %v", rec.Code, rec.Body, err)
	}
	var ids []string
	for _, r := range got.Replicas {
		ids = append(ids, r.Region+"/"+r.ID)
		if r.Self != (r.ID == "b") {
			t.Errorf("%s: self = %v", r.ID, r.Self)
		}
	}
	if got.Self != "b" || got.LeaseMS != 30000 || got.Sharing != 2 || !slices.Equal(ids, []string{"/a", "/b", "eu-west/e"}) {
		t.Errorf("answer = %s", rec.Body)
	}
	failing := NewAPI(failingLive{}, a, slog.New(slog.DiscardHandler))
	rec = httptest.NewRecorder()
	failing.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/admin/replicas", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "gone") {
		t.Errorf("a failed read: %d %s, want 500 without the internal error", rec.Code, rec.Body)
	}
}

// liveOf reads every region's live members from the fake store.
type liveOf struct{ s *fakeStore }

func (l liveOf) LiveMembers(ctx context.Context, within time.Duration) ([]linkwatch.Member, error) {
	var out []linkwatch.Member
	for _, region := range []string{"", "eu-west"} {
		ms, err := l.s.Members(ctx, region, within)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

type failingLive struct{}

func (failingLive) LiveMembers(context.Context, time.Duration) ([]linkwatch.Member, error) {
	return nil, errors.New("database gone")
}

// TestAssignmentIgnoresHostCase: Shop.test and shop.test are one host to
// the checker (its per-host politeness and Retry-After), so they must be
// one host to the split too, or two replicas would call it at once.
func TestAssignmentIgnoresHostCase(t *testing.T) {
	t.Parallel()
	members := []string{"a", "b", "c"}
	for h := range 50 {
		lower := fmt.Sprintf("https://h%d.example/x", h)
		mixed := fmt.Sprintf("https://H%d.Example/y", h)
		var owners []string
		for _, self := range members {
			as := Assignment{Self: self, Members: members}
			for _, u := range []string{lower, mixed} {
				if len(as.Filter([]linkwatch.Target{{ID: u, Kind: linkwatch.TargetDestination, URL: u}})) == 1 {
					owners = append(owners, self+" "+u)
				}
			}
		}
		if len(owners) != 2 || owners[0][0] != owners[1][0] {
			t.Errorf("host %d in two cases owned as %v, want both by one replica", h, owners)
		}
	}
}

// TestNoHostHasTwoCheckersAfterAnOutage: the database is down for six
// intervals, twice the lease, while three replicas keep checking their
// shares. When it is back, each replica's first heartbeat finds every
// other's lease run out by the clock; counting only the time it could
// reach the database, it keeps them until it has seen a lease of their
// silence, so no host is ever owned by two replicas. The replicas come
// back one by one; one of them died during the outage: its hosts move
// once the others have seen a full lease of its silence.
func TestNoHostHasTwoCheckersAfterAnOutage(t *testing.T) {
	t.Parallel()
	for _, dies := range []bool{false, true} {
		t.Run(fmt.Sprintf("one died during the outage: %v", dies), func(t *testing.T) {
			ctx := context.Background()
			clk := &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
			store := &fakeStore{rows: map[string]linkwatch.Member{}, dead: map[string]bool{}, now: clk.Now}
			const interval = 10 * time.Second
			var targets []linkwatch.Target
			for h := range 90 {
				u := fmt.Sprintf("https://h%d.example/", h)
				targets = append(targets, linkwatch.Target{ID: u, Kind: linkwatch.TargetDestination, URL: u})
			}
			ids := []string{"a", "b", "c"}
			members := map[string]*Membership{}
			for _, id := range ids {
				members[id] = New(store, linkwatch.Member{ID: id}, Options{Interval: interval, Now: clk.Now})
			}
			alive := map[string]bool{"a": true, "b": true, "c": true}
			owners := func() map[string][]string {
				out := map[string][]string{}
				for _, id := range ids {
					if alive[id] {
						for _, tg := range members[id].Assignment().Filter(targets) {
							out[tg.ID] = append(out[tg.ID], id)
						}
					}
				}
				return out
			}
			// round: every live replica beats once, a second apart, in
			// order, within interval/3; no host may have two checkers at
			// any moment once they have all met.
			met := false
			round := func(order []string, down bool) {
				t.Helper()
				start := clk.Now()
				for _, id := range order {
					if !alive[id] {
						continue
					}
					err := members[id].Tick(ctx)
					if down != (err != nil) {
						t.Fatalf("%s at %s: heartbeat error %v with the database down: %v", id, clk.Now().Sub(start), err, down)
					}
					for h, who := range owners() {
						if met && len(who) > 1 {
							t.Fatalf("at %s, after %s's heartbeat, %s has two checkers: %v", clk.Now().Format(time.TimeOnly), id, h, who)
						}
					}
					clk.Add(time.Second)
				}
				clk.t = start.Add(interval / 3)
			}
			// Meeting: before its first heartbeat, a replica checks
			// everything, and those that beat before another has see it
			// a round later.
			round(ids, false)
			round(ids, false)
			met = true
			for range 3 {
				round(ids, false)
			}
			store.fail = errors.New("database gone")
			for range 18 { // six intervals
				round(ids, true)
			}
			store.fail = nil
			if dies {
				alive["c"] = false // killed while the database was down: never back
			}
			for range 11 { // a full lease (three intervals, nine rounds) after each one's first heartbeat back, and a round
				round([]string{"c", "b", "a"}, false)
			}
			want := ids
			if dies {
				want = []string{"a", "b"}
			}
			for h, who := range owners() {
				if len(who) != 1 {
					t.Errorf("a lease after the database was back, %s is checked by %v", h, who)
				}
			}
			for _, id := range want {
				if got := members[id].Assignment().Members; !slices.Equal(got, want) {
					t.Errorf("%s shares with %v, want %v", id, got, want)
				}
			}
		})
	}
}

// TestLookbackCountsOnlyTimeTheStoreAnswered: the lease of a member a
// replica sees silent is counted in the time that replica could reach the
// store: 60 s cut off, it keeps a member silent since up to 30 s before
// it was cut off, for a beat after it is back; then only the members
// heard since a beat before its last failed heartbeat (they re-announced
// themselves after the outage); a lease after it came back, the lookback
// is the plain lease.
// A replica that started without the store counts from its start.
func TestLookbackCountsOnlyTimeTheStoreAnswered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	store := &fakeStore{rows: map[string]linkwatch.Member{}, dead: map[string]bool{}, now: clk.Now}
	m := New(store, linkwatch.Member{ID: "a"}, Options{Interval: 10 * time.Second, Now: clk.Now})
	must(t, m.Tick(ctx))
	if got := m.Lookback(); got != 30*time.Second {
		t.Fatalf("lookback with the store always there = %s, want the lease, 30s", got)
	}
	store.fail = errors.New("database gone")
	clk.Add(50 * time.Second)
	if m.Tick(ctx) == nil {
		t.Fatal("a heartbeat to a failing store succeeded")
	}
	clk.Add(10 * time.Second)
	store.fail = nil
	must(t, m.Tick(ctx)) // back after 60 s cut off
	for _, step := range []struct {
		after time.Duration
		want  time.Duration
	}{
		{0, 90 * time.Second}, {3 * time.Second, 90 * time.Second},
		// A beat after coming back: heard since a beat before its last
		// failed heartbeat, 10 s before it came back.
		{10 * time.Second, 10*time.Second + 10*time.Second + 10*time.Second/3},
		{29 * time.Second, 29*time.Second + 10*time.Second + 10*time.Second/3},
		{30 * time.Second, 30 * time.Second}, {time.Hour, 30 * time.Second},
	} {
		c := &fakeClock{t: clk.Now().Add(step.after)}
		m.opts.Now = c.Now
		if got := m.Lookback(); got != step.want {
			t.Errorf("%s after coming back: lookback %s, want %s", step.after, got, step.want)
		}
	}

	// Started while the store was down, back 20 s later.
	late := New(store, linkwatch.Member{ID: "d"}, Options{Interval: 10 * time.Second, Now: clk.Now})
	store.fail = errors.New("database gone")
	if late.Tick(ctx) == nil {
		t.Fatal("a heartbeat to a failing store succeeded")
	}
	clk.Add(20 * time.Second)
	store.fail = nil
	must(t, late.Tick(ctx))
	if got := late.Lookback(); got != 50*time.Second {
		t.Errorf("a replica started 20 s before the store answered: lookback %s, want 50s", got)
	}
}

// TestJoinHandsHostsOver: a replica joining a running fleet takes its
// hosts only after every other replica has given them away, at whatever
// point of the others' heartbeats it joins, whichever of two heartbeats
// at one instant comes first, and when the others' heartbeats come late
// (a beat is interval/3 after the end of the last one's tick). At every
// heartbeat of any of them no host has two owners, the others keep the
// joiner's hosts for half a beat after it joined, the joiner owns nothing
// for two beats, no host is left without an owner for more than a beat
// and a half (an interval while the fleet first meets, its members
// joining one after the other), and in the end they split the hosts. A
// replica killed and restarted (a new id) joins the same way. A replica
// alone owns every host at its first heartbeat: the first of a fleet, and
// the only one, restarted.
func TestJoinHandsHostsOver(t *testing.T) {
	t.Parallel()
	const interval = 9 * time.Second
	const beat = interval / 3
	var targets []linkwatch.Target
	for h := range 60 {
		u := fmt.Sprintf("https://h%d.example/", h)
		targets = append(targets, linkwatch.Target{ID: u, Kind: linkwatch.TargetDestination, URL: u})
	}
	type replica struct {
		id     string
		phase  time.Duration // of its beats, from the start of the test, if it starts with it
		starts time.Duration // its first heartbeat (its join), from the start; its beats follow
		dies   time.Duration // killed (its session gone), from the start; 0 never
		late   time.Duration // its beats are a beat and this apart: its ticks' duration
	}
	const s = time.Second
	const ms = time.Millisecond
	for _, tc := range []struct {
		name   string
		fleet  []replica // in the order they beat at one instant; the first starts first
		joiner string
		killed bool // a replica is killed as the joiner starts: its hosts have no owner for a beat
		alone  bool // the joiner is the only live replica
	}{
		{name: "joins between the others' beats", fleet: []replica{{id: "a"}, {id: "b", phase: s}, {id: "c", starts: 20 * s}}, joiner: "c"},
		{name: "joins just after a beat", fleet: []replica{{id: "a"}, {id: "b", phase: s}, {id: "c", starts: 21*s + 100*ms}}, joiner: "c"},
		{name: "joins just before a beat", fleet: []replica{{id: "a"}, {id: "b", phase: s}, {id: "c", starts: 20*s + 900*ms}}, joiner: "c"},
		{name: "joins beating first at the others' instant", fleet: []replica{{id: "a"}, {id: "c", starts: 21 * s}, {id: "b"}}, joiner: "c"},
		{name: "joins beating last at the others' instant", fleet: []replica{{id: "a"}, {id: "b"}, {id: "c", starts: 21 * s}}, joiner: "c"},
		{name: "joins as the others beat late", fleet: []replica{{id: "a", late: 200 * ms}, {id: "b", phase: s, late: 100 * ms}, {id: "c", starts: 19*s + 500*ms}}, joiner: "c"}, // a beats at 22.4 s and 25.6 s
		{name: "restarted with a new id", fleet: []replica{{id: "a"}, {id: "b", phase: s, dies: 20 * s}, {id: "b2", starts: 20*s + 500*ms}, {id: "c", phase: 2 * s}}, joiner: "b2", killed: true},
		{name: "alone, restarted with a new id", fleet: []replica{{id: "a", dies: 20 * s}, {id: "a2", starts: 20*s + 500*ms}}, joiner: "a2", killed: true, alone: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
			clk := &fakeClock{t: start}
			store := &fakeStore{rows: map[string]linkwatch.Member{}, dead: map[string]bool{}, now: clk.Now}
			members := map[string]*Membership{}
			beaten := map[string]bool{} // its first heartbeat written: before, serve does not probe
			var joined time.Duration
			for _, r := range tc.fleet {
				if r.id == tc.joiner {
					joined = r.starts
				}
			}
			alive := func(r replica, at time.Duration) bool { return at >= r.starts && (r.dies == 0 || at < r.dies) }
			owners := func(at time.Duration) map[string][]string {
				out := map[string][]string{}
				for _, r := range tc.fleet {
					if alive(r, at) && beaten[r.id] {
						for _, tg := range members[r.id].Assignment().Filter(targets) {
							out[tg.ID] = append(out[tg.ID], r.id)
						}
					}
				}
				return out
			}
			orphaned := map[string]time.Duration{} // since when each host has had no owner
			freed := map[string]time.Duration{}    // when each host was last given up by a replica other than the joiner
			took := false                          // the joiner took its hosts
			next := map[string]time.Duration{}     // each one's next heartbeat
			for _, r := range tc.fleet {
				next[r.id] = r.phase + r.starts
			}
			const step = 100 * ms
			for at := time.Duration(0); at <= joined+3*interval; at += step {
				clk.t = start.Add(at)
				for _, r := range tc.fleet {
					if r.dies != 0 && at == r.dies {
						store.dead[r.id] = true
					}
					if !alive(r, at) || at != next[r.id] {
						continue
					}
					if members[r.id] == nil { // started now
						members[r.id] = New(store, linkwatch.Member{ID: r.id}, Options{Interval: interval, Now: clk.Now})
					}
					next[r.id] += beat + r.late
					must(t, members[r.id].Tick(ctx))
					first := !beaten[r.id]
					beaten[r.id] = true
					mine := len(members[r.id].Assignment().Filter(targets))
					switch {
					case first && (r.id == tc.fleet[0].id || r.id == tc.joiner && tc.alone):
						if mine != len(targets) {
							t.Fatalf("%s, alone, owns %d of %d hosts at its first heartbeat", r.id, mine, len(targets))
						}
					case r.id == tc.joiner && !tc.alone && at < joined+2*beat && mine != 0:
						t.Fatalf("at %s, %s owns %d hosts, less than two beats after it joined at %s", at, r.id, mine, joined)
					}
					own := owners(at)
					for _, tg := range targets {
						if others := slices.DeleteFunc(slices.Clone(own[tg.ID]), func(id string) bool { return id == tc.joiner }); len(others) == 0 {
							if _, ok := freed[tg.ID]; !ok {
								freed[tg.ID] = at
							}
						} else {
							delete(freed, tg.ID)
						}
					}
					if r.id == tc.joiner && mine > 0 && !took {
						// The joiner takes its hosts: the assignment says
						// when the last replica that held them let them go
						// (and a little after, for its scheduler), so that
						// the scheduler makes up the slots missed since.
						took = true
						since := members[r.id].Assignment().Since
						if tc.alone || tc.killed && tc.fleet[0].id == tc.joiner {
							if !since.IsZero() {
								t.Errorf("%s took its hosts alone, with a Since (%s): nobody handed them over", r.id, since.Sub(start))
							}
						} else {
							lag := members[r.id].releaseLag()
							var last time.Duration
							for _, tg := range members[r.id].Assignment().Filter(targets) {
								if f, ok := freed[tg.ID]; !ok || start.Add(f+lag).After(since) {
									t.Errorf("at %s, %s takes %s with Since %s, but another replica held it until %s", at, r.id, tg.ID, since.Sub(start), f)
								} else {
									last = max(last, f)
								}
							}
							if want := start.Add(last + lag); !since.Equal(want) {
								t.Errorf("at %s, %s takes its hosts with Since %s, want %s: a beat-sixth after the last was let go", at, r.id, since.Sub(start), want.Sub(start))
							}
						}
					}
					for _, tg := range targets {
						switch who := own[tg.ID]; {
						case len(who) > 1:
							t.Fatalf("at %s, after %s's heartbeat, %s has two owners: %v", at, r.id, tg.ID, who)
						case len(who) == 1:
							delete(orphaned, tg.ID)
						case at >= 2*interval && at < joined+beat/2 && !tc.killed:
							t.Fatalf("at %s, %s has no owner less than half a beat after %s joined at %s: given away early", at, tg.ID, tc.joiner, joined)
						default:
							if _, ok := orphaned[tg.ID]; !ok {
								orphaned[tg.ID] = at
							}
						}
					}
				}
				for h, since := range orphaned {
					// While the fleet meets, the first starts' joins add up.
					if at-since > beat+beat/2 && (at-since > interval || since >= 2*interval) {
						t.Fatalf("at %s, %s has had no owner since %s: more than a beat and a half (an interval while the fleet meets)", at, h, since)
					}
				}
			}
			own := owners(joined + 3*interval)
			counts := map[string]int{}
			for _, tg := range targets {
				if len(own[tg.ID]) != 1 {
					t.Fatalf("in the end, %s is owned by %v", tg.ID, own[tg.ID])
				}
				counts[own[tg.ID][0]]++
			}
			if counts[tc.joiner] == 0 {
				t.Errorf("in the end, %s owns nothing: %v", tc.joiner, counts)
			}
		})
	}
}

// TestJoinAfterAnOutage: a replica killed and restarted while the database
// is down reaches it first when it is back. The survivor's last heartbeat
// is older than the restarted one's lookback, so it finds no member older
// than itself; having waited for the database, it does not take every
// host as a first start would, but joins: no host has two owners at any
// heartbeat, and once both have beaten twice they split the hosts.
func TestJoinAfterAnOutage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const interval = 9 * time.Second
	clk := &fakeClock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	store := &fakeStore{rows: map[string]linkwatch.Member{}, dead: map[string]bool{}, now: clk.Now}
	var targets []linkwatch.Target
	for h := range 60 {
		u := fmt.Sprintf("https://h%d.example/", h)
		targets = append(targets, linkwatch.Target{ID: u, Kind: linkwatch.TargetDestination, URL: u})
	}
	a := New(store, linkwatch.Member{ID: "a"}, Options{Interval: interval, Now: clk.Now})
	must(t, a.Tick(ctx))
	store.fail = errors.New("database gone")
	// b starts during the outage, more than a lease (27 s) after a's last
	// heartbeat.
	clk.Add(30 * time.Second)
	b := New(store, linkwatch.Member{ID: "b"}, Options{Interval: interval, Now: clk.Now})
	for range 10 {
		clk.Add(interval / 3)
		if a.Tick(ctx) == nil || b.Tick(ctx) == nil {
			t.Fatal("a heartbeat to a failing store succeeded")
		}
	}
	store.fail = nil
	clk.Add(time.Second)
	started := false
	for i, m := range []*Membership{b, a, b, a, b, a, b} {
		must(t, m.Tick(ctx))
		started = started || m == b
		for _, tg := range targets {
			if a.Assignment().Owns(tg) && started && b.Assignment().Owns(tg) {
				t.Fatalf("after heartbeat %d back, %s is owned by a and b: a shares with %v, b with %v", i, tg.ID, a.Assignment().Members, b.Assignment().Members)
			}
		}
		clk.Add(interval / 6)
	}
	for _, m := range []*Membership{a, b} {
		if got := m.Assignment().Members; !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("%s shares with %v, want a and b", m.Self().ID, got)
		}
	}
}

// reach is the store as one replica reaches it: down while the database
// is, or while this replica cannot reach it; a killed replica's process
// writes nothing more and does not leave.
type reach struct {
	*fakeStore
	down   func() bool
	killed *atomic.Bool
}

var errGone = errors.New("database gone")

func (r reach) Heartbeat(ctx context.Context, m linkwatch.Member) error {
	if r.down() || r.killed.Load() {
		return errGone
	}
	return r.fakeStore.Heartbeat(ctx, m)
}

func (r reach) Members(ctx context.Context, region string, within time.Duration) ([]linkwatch.Member, error) {
	if r.down() || r.killed.Load() {
		return nil, errGone
	}
	return r.fakeStore.Members(ctx, region, within)
}

func (r reach) Leave(ctx context.Context, id string) error {
	if r.killed.Load() {
		return nil
	}
	return r.fakeStore.Leave(ctx, id)
}

// TestDeadMemberMovesSoonAfterTheDatabaseReturns runs replicas (Run, on
// the fake clock of a synctest bubble) through database outages in the
// unlucky orders: a replica killed during the outage, or right before the
// database returns, is never heard from again, and no lock proves it dead
// (the server's restart took every lock); a survivor slow to reconnect
// (its tries fail for two thirds of a beat after the return, or for a
// beat and a third: the others wait two beats for it); the
// database flapping (back for a moment that only one survivor sees, then
// down again); a replica killed and restarted during the outage; the only
// survivor the slow one. At every sample no host has two owners among the
// replicas probing (those whose first heartbeat was written), and within
// an interval of the database's last return (and the slowest survivor's
// reconnection) every host has one: the dead replica's hosts moved at
// its survivors' third heartbeat back, so a host is checked at its usual
// offset within two intervals of the return (a lease, as before this
// rule, is three).
func TestDeadMemberMovesSoonAfterTheDatabaseReturns(t *testing.T) {
	t.Parallel()
	const interval = 9 * time.Second
	const beat = interval / 3
	var targets []linkwatch.Target
	for h := range 60 {
		u := fmt.Sprintf("https://h%d.example/", h)
		targets = append(targets, linkwatch.Target{ID: u, Kind: linkwatch.TargetDestination, URL: u})
	}
	const s = time.Second
	type window struct{ from, to time.Duration }
	type replica struct {
		id           string
		starts, dies time.Duration // from the start of the test; dies 0: never
		slow         time.Duration // its tries fail this long after each return
		phase        time.Duration // its first start, within the first beat
	}
	for _, tc := range []struct {
		name    string
		fleet   []replica
		outages []window // the database down, from the start of the test
	}{
		{name: "killed during the outage",
			fleet:   []replica{{id: "a"}, {id: "b", phase: s}, {id: "c", phase: 2 * s, dies: 50 * s}},
			outages: []window{{40 * s, 85 * s}}},
		{name: "killed right before the return",
			fleet:   []replica{{id: "a"}, {id: "b", phase: s}, {id: "c", phase: 2 * s, dies: 85*s - 100*time.Millisecond}},
			outages: []window{{40 * s, 85 * s}}},
		{name: "a survivor slow to reconnect",
			fleet:   []replica{{id: "a"}, {id: "b", phase: s, slow: 2 * s}, {id: "c", phase: 2 * s, dies: 50 * s}},
			outages: []window{{40 * s, 85 * s}}},
		{name: "a survivor slower to reconnect than a beat",
			fleet:   []replica{{id: "a"}, {id: "b", phase: s, slow: 4 * s}, {id: "c", phase: 2 * s, dies: 50 * s}},
			outages: []window{{40 * s, 85 * s}}},
		{name: "the database flaps, back for a moment one survivor misses",
			fleet:   []replica{{id: "a"}, {id: "b", phase: s, slow: 2 * s}, {id: "c", phase: 2 * s, dies: 50 * s}},
			outages: []window{{40 * s, 60 * s}, {61*s + 500*time.Millisecond, 85 * s}}},
		{name: "killed and restarted during the outage",
			fleet:   []replica{{id: "a"}, {id: "b", phase: s}, {id: "c", phase: 2 * s, dies: 50 * s}, {id: "c2", starts: 51 * s}},
			outages: []window{{40 * s, 85 * s}}},
		{name: "no survivor but the slow one",
			fleet:   []replica{{id: "a", slow: 2 * s}, {id: "b", phase: s, dies: 45 * s}, {id: "c", phase: 2 * s, dies: 70 * s}},
			outages: []window{{40 * s, 85 * s}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				at := func() time.Duration { return time.Since(start) }
				dbDown := func(slow time.Duration) bool {
					now := at()
					for _, o := range tc.outages {
						if now >= o.from && now < o.to+slow {
							return true
						}
					}
					return false
				}
				store := &fakeStore{rows: map[string]linkwatch.Member{}, dead: map[string]bool{}, now: time.Now}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				type running struct {
					m      *Membership
					killed atomic.Bool
				}
				live := map[string]*running{}
				var mu sync.Mutex
				var wg sync.WaitGroup
				for _, r := range tc.fleet {
					wg.Go(func() {
						time.Sleep(r.starts + r.phase)
						run := &running{}
						run.m = New(reach{fakeStore: store, down: func() bool { return dbDown(r.slow) }, killed: &run.killed},
							linkwatch.Member{ID: r.id}, Options{Interval: interval})
						mu.Lock()
						live[r.id] = run
						mu.Unlock()
						rctx, stop := context.WithCancel(ctx)
						defer stop()
						if r.dies != 0 {
							go func() {
								time.Sleep(r.dies - r.starts - r.phase)
								run.killed.Store(true)
								stop()
							}()
						}
						_ = run.m.Run(rctx)
					})
				}
				last := tc.outages[len(tc.outages)-1].to
				var slowest time.Duration
				for _, r := range tc.fleet {
					if r.dies == 0 {
						slowest = max(slowest, r.slow)
					}
				}
				// Every host has an owner again within an interval of the
				// return: a survivor drops the dead at its third heartbeat
				// back, a joiner takes its hosts at its third.
				settled := last + slowest + 2*beat + beat/3
				orphaned := map[string]time.Duration{}
				for at() < last+3*interval {
					time.Sleep(100 * time.Millisecond)
					synctest.Wait()
					now := at()
					owners := map[string][]string{}
					mu.Lock()
					for id, run := range live {
						run.m.mu.Lock()
						probing := run.m.beaten && !run.killed.Load()
						run.m.mu.Unlock()
						if probing {
							for _, tg := range run.m.Assignment().Filter(targets) {
								owners[tg.ID] = append(owners[tg.ID], id)
							}
						}
					}
					mu.Unlock()
					for _, tg := range targets {
						switch who := owners[tg.ID]; {
						case len(who) > 1 && now >= 2*interval: // once the fleet has met
							t.Fatalf("at %s, %s has two owners: %v", now, tg.ID, who)
						case len(who) == 0:
							if _, ok := orphaned[tg.ID]; !ok {
								orphaned[tg.ID] = now
							}
						default:
							delete(orphaned, tg.ID)
						}
					}
					if now >= settled && len(orphaned) > 0 {
						t.Fatalf("at %s, %s after the database's return at %s, %d hosts have no owner (one since %s)",
							now, now-last, last, len(orphaned), slices.Min(slices.Collect(maps.Values(orphaned))))
					}
				}
				cancel()
				wg.Wait()
			})
		})
	}
}

// slowStore is a database slow under load: every call answers, delay
// later (unless the caller gives up first).
type slowStore struct {
	*fakeStore
	delay time.Duration
}

func (s slowStore) wait(ctx context.Context) error {
	select {
	case <-time.After(s.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s slowStore) Heartbeat(ctx context.Context, m linkwatch.Member) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.fakeStore.Heartbeat(ctx, m)
}

func (s slowStore) Members(ctx context.Context, region string, within time.Duration) ([]linkwatch.Member, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.fakeStore.Members(ctx, region, within)
}

// TestSlowDatabaseIsNotAnOutage: heartbeats that take longer than a beat
// (a database slow under load: the e2e replicas under CI's whole test
// run) but answer within an interval are heartbeats, not failures. Were
// they cut short after a beat, as the retries during an outage are, no
// heartbeat would ever be taken: the replicas would keep the split they
// started with (each alone, every host checked three times).
func TestSlowDatabaseIsNotAnOutage(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const interval = 9 * time.Second
		store := slowStore{&fakeStore{rows: map[string]linkwatch.Member{}, dead: map[string]bool{}, now: time.Now}, 2 * time.Second}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var ms []*Membership
		for i, id := range []string{"a", "b", "c"} {
			m := New(store, linkwatch.Member{ID: id}, Options{Interval: interval})
			ms = append(ms, m)
			wg.Go(func() {
				time.Sleep(time.Duration(i) * time.Second)
				_ = m.Run(ctx)
			})
		}
		time.Sleep(4 * interval)
		for _, m := range ms {
			if got := m.Assignment().Members; !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Errorf("%s shares with %v, want a, b and c", m.Self().ID, got)
			}
		}
		cancel()
		wg.Wait()
	})
}

// TestJoinSinceOnlyWhenEveryHolderLetGo: a joiner's assignment says when
// its hosts were last checked (Since) only when every member that held
// them was seen counting it and is still live. One that died while it
// joined may have checked them until its death, which nobody saw; one
// whose heartbeat since the joiner's start was not seen may check them
// still. Either way the take has no Since: its scheduler makes up no slot,
// rather than check a host twice.
func TestJoinSinceOnlyWhenEveryHolderLetGo(t *testing.T) {
	const interval = 9 * time.Second
	const beat = interval / 3
	for _, tc := range []struct {
		name      string
		dies      bool // b dies between c's second and third heartbeats
		silent    bool // b does not beat while c joins
		wantSince bool
	}{
		{name: "every holder let go", wantSince: true},
		{name: "a holder died", dies: true},
		{name: "a holder not heard", silent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
			clk := &fakeClock{t: start}
			store := &fakeStore{rows: map[string]linkwatch.Member{}, dead: map[string]bool{}, now: clk.Now}
			var got []Assignment
			a := New(store, linkwatch.Member{ID: "a"}, Options{Interval: interval, Now: clk.Now})
			b := New(store, linkwatch.Member{ID: "b"}, Options{Interval: interval, Now: clk.Now})
			c := New(store, linkwatch.Member{ID: "c"}, Options{Interval: interval, Now: clk.Now,
				OnChange: func(as Assignment) { got = append(got, as) }})
			// a and b meet; c joins, and after each of its heartbeats a
			// beats half a beat later, b 0.7 of a beat later.
			must(t, a.Tick(ctx))
			must(t, b.Tick(ctx))
			for range 6 {
				clk.Add(beat)
				must(t, a.Tick(ctx))
				must(t, b.Tick(ctx))
			}
			joined := clk.Now().Add(beat / 10)
			clk.t = joined
			for i := range 3 { // c's first three heartbeats: it takes its hosts at the third
				must(t, c.Tick(ctx))
				clk.Add(beat / 2)
				must(t, a.Tick(ctx))
				if tc.dies && i == 1 {
					store.dead["b"] = true
				}
				if !tc.silent {
					clk.Add(beat / 5)
					must(t, b.Tick(ctx))
					clk.Add(-beat / 5)
				}
				clk.Add(beat / 2)
			}
			if len(got) == 0 || !slices.Contains(got[len(got)-1].Members, "c") {
				t.Fatalf("c's assignments: %+v; want it to have taken its hosts", got)
			}
			since := got[len(got)-1].Since
			switch {
			case tc.wantSince && since.IsZero():
				t.Errorf("c took its hosts without a Since")
			case tc.wantSince:
				// b beat last: at the first of its heartbeats past half a
				// beat after c joined, it let c's hosts go.
				if want := joined.Add(beat/2 + beat/5).Add(beat / 6); !since.Equal(want) {
					t.Errorf("c took its hosts with Since %v after its join, want %v", since.Sub(joined), want.Sub(joined))
				}
			case !since.IsZero():
				t.Errorf("c took its hosts with Since %v after its join, want none", since.Sub(joined))
			}
		})
	}
}
