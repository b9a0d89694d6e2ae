package incidents_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/incidents"
	"linkwatch/storage/sqlite/sqlitetest"
)

// BenchmarkCrossing is the engine's cost when a destination crosses its
// failure threshold, on SQLite: in the one unnamed region (an incident and
// its alert written), and in region a of two where only a sees it (a
// verdict written, the vote read, a regional note written). One op is one
// destination's two failing results.
func BenchmarkCrossing(b *testing.B) {
	for _, region := range []string{"", "a"} {
		name := "single-region"
		if region != "" {
			name = "minority-of-two-regions"
		}
		b.Run(name, func(b *testing.B) {
			db := sqlitetest.MustOpen(b)
			now := t0
			db.SetClock(func() time.Time { return now })
			ctx := context.Background()
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			if region != "" {
				// Region b is alive and sees everything up.
				if err := db.RecordRegion(ctx, incidents.RegionHealth{Region: "b", CanaryOK: true, At: now}, nil, now.Add(-time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
			eng, err := incidents.NewEngine(ctx, incidents.Config{Region: region}, db, nil, log)
			if err != nil {
				b.Fatal(err)
			}
			incidents.SetClock(eng, func() time.Time { return now })
			b.ResetTimer()
			for i := range b.N {
				// A host per destination: no grouping, one incident each.
				u := fmt.Sprintf("https://d%d.example/", i)
				for range 2 {
					r := linkwatch.Result{TargetID: u, Kind: linkwatch.TargetDestination, URL: u, Start: now, Status: linkwatch.StatusDown,
						Cause: linkwatch.CauseConnectRefused, Summary: "refused"}
					if err := eng.Handle(ctx, r); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
