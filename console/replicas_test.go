package console_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"linkwatch/checker/shard"
	"linkwatch/console"
	"linkwatch/storage/sqlite/sqlitetest"
)

// replicaReader answers as shard.API does over a PostgreSQL membership.
type replicaReader struct {
	got shard.Replicas
	err error
}

func (r replicaReader) Replicas(context.Context) (shard.Replicas, error) { return r.got, r.err }

// TestReplicasPage: replicas are shown by region, each with its address,
// start and last heartbeat (and how long ago, by the console's clock),
// this one marked; without replicas (SQLite) the page says linkwatch is
// one process; a membership that cannot be read is a 503 that names no
// cause.
func TestReplicasPage(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	two := shard.Replicas{Self: "r-a1", LeaseMS: 15000, Sharing: 2, Replicas: []shard.Replica{
		{ID: "r-a1", Region: "eu", Addr: "10.0.0.1:8080", StartedAt: t0.Add(-time.Hour), HeartbeatAt: t0.Add(-2 * time.Second), Self: true},
		{ID: "r-a2", Region: "eu", Addr: "10.0.0.2:8080", StartedAt: t0.Add(-time.Hour), HeartbeatAt: t0.Add(-7 * time.Second)},
		{ID: "r-b1", Region: "us", Addr: "10.1.0.1:8080", StartedAt: t0.Add(-30 * time.Minute), HeartbeatAt: t0.Add(-4 * time.Second)},
	}}
	for _, tc := range []struct {
		name   string
		reader console.ReplicaReader
		code   int
		want   []string
	}{
		{"two regions", replicaReader{got: two}, http.StatusOK, []string{`<h2 id="region-eu-h">Region eu</h2>`, `<h2 id="region-us-h">Region us</h2>`,
			"<code>r-a1</code> (this one)", "<td>10.0.0.2:8080</td>", `<time datetime="2026-12-07T09:59:53Z">7 Dec 2026 09:59:53 UTC</time>, 7s ago`,
			"the lease: 15s", "checks: 2."}},
		{"sqlite", nil, http.StatusOK, []string{"it runs as one process"}},
		{"unreadable", replicaReader{err: errors.New("pq: connection refused")}, http.StatusServiceUnavailable, []string{"cannot read or write its database"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := sqlitetest.MustOpen(t)
			clk := &clock{t: t0}
			db.SetClock(clk.Now)
			e := serveOn(t, db.DB, clk, console.Options{Replicas: tc.reader})
			b := newBrowser(t)
			b.mustSignIn(e, "Grace")
			a := b.do("GET", e.srv.URL+"/admin/replicas", nil)
			if a.code != tc.code {
				t.Errorf("GET = %d, want %d", a.code, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(a.body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if strings.Contains(a.body, "connection refused") {
				t.Error("the page names the database's error")
			}
			if t.Failed() {
				t.Logf("page:\n%s", a.body)
			}
		})
	}
}
