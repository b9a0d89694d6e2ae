package storage

import (
	"slices"
	"testing"
	"time"
)

func TestPackMinutesRoundTrip(t *testing.T) {
	hour := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	us := func(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
	rs := []Rollup{
		// Every check failed: no response time.
		{TargetID: "k", Start: hour, Count: 6, Failures: 6},
		{TargetID: "k", Start: hour.Add(time.Minute), Count: 6, Degraded: 2, LatCount: 6, LatMin: us(1), LatMax: us(9_999_999_999), LatSum: us(10_000_123_456),
			Hist: [HistColumns]int64{0: 1, 10: 5}},
		{TargetID: "k", Start: hour.Add(59 * time.Minute), Count: 1 << 30, LatCount: 1 << 30, LatMin: us(250_000), LatMax: us(250_000), LatSum: us(250_000 << 30),
			Hist: [HistColumns]int64{5: 1 << 30}},
	}
	b := packMinutes(hour.Unix(), rs)
	got, err := unpackMinutes("k", hour.Unix(), b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, rs) {
		t.Errorf("unpacked\n%+v, want\n%+v", got, rs)
	}
	if got, err := unpackMinutes("k", hour.Unix(), packMinutes(hour.Unix(), nil)); err != nil || len(got) != 0 {
		t.Errorf("an hour without minutes unpacks to %+v, %v", got, err)
	}
	// Six answers a minute in 40 to 240 ms, as most hours hold.
	var typical []Rollup
	for m := range 60 {
		typical = append(typical, Rollup{Start: hour.Add(time.Duration(m) * time.Minute), Count: 6, LatCount: 6,
			LatMin: us(41_000), LatMax: us(233_000), LatSum: us(800_000), Hist: [HistColumns]int64{2: 1, 3: 2, 4: 3}})
	}
	if n := len(packMinutes(hour.Unix(), typical)); n > 60*20 {
		t.Errorf("a typical hour packs into %d bytes, want at most 20 a minute", n)
	}
}

// TestUnpackMinutesRefusesDamage: every cut of a packed hour, and bytes
// no packMinutes wrote, are an error, never minutes made up.
func TestUnpackMinutesRefusesDamage(t *testing.T) {
	hour := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	good := packMinutes(hour.Unix(), []Rollup{
		{Start: hour, Count: 300, LatCount: 300, LatMin: 40 * time.Millisecond, LatMax: 90 * time.Millisecond, LatSum: 15 * time.Second, Hist: [HistColumns]int64{2: 150, 3: 150}},
		{Start: hour.Add(time.Minute), Count: 6, Failures: 6},
	})
	for n := range len(good) {
		if rs, err := unpackMinutes("k", hour.Unix(), good[:n]); err == nil {
			t.Errorf("the first %d of %d bytes unpacked to %+v, want an error", n, len(good), rs)
		}
	}
	for name, b := range map[string][]byte{
		"empty":              nil,
		"another format":     append([]byte{packFormat + 1}, good[1:]...),
		"61 minutes":         {packFormat, 61},
		"bytes past the end": append(slices.Clip(good), 0),
		"minute 60":          {packFormat, 1, 60, 0, 0, 0, 0, 0, 0, 0, 0},
		"minutes backwards":  {packFormat, 2, 5, 1, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0, 0, 0, 0, 0, 0, 0},
		"a minute twice":     {packFormat, 2, 5, 1, 0, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 0, 0, 0, 0},
		"a bucket past +inf": {packFormat, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0x80, 0x10, 1},
		"an endless varint":  {packFormat, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		if rs, err := unpackMinutes("k", hour.Unix(), b); err == nil {
			t.Errorf("%s: unpacked to %+v, want an error", name, rs)
		}
	}
}
