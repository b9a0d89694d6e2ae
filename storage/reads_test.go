package storage

import (
	"slices"
	"testing"
	"time"

	"linkwatch"
)

func TestPlanReads(t *testing.T) {
	at := func(h, m, s int) time.Time { return time.Date(2026, 11, 22, h, m, s, 0, time.UTC) }
	u := func(h, m int) int64 { return at(h, m, 0).Unix() }
	minutes := func(from, to int64, except ...int64) []int64 {
		var out []int64
		for m := from; m < to; m += 60 {
			if !slices.Contains(except, m) {
				out = append(out, m)
			}
		}
		return out
	}
	tests := []struct {
		name                string
		done, kept          int64
		from, to            time.Time
		unknown             []linkwatch.Span
		wantHours, wantMins []int64
	}{
		{
			name: "nothing unknown: hours rolled up, minutes after",
			done: u(12, 0), kept: u(9, 0), from: at(10, 15, 0), to: at(12, 3, 0),
			wantHours: []int64{u(10, 0), u(11, 0)}, wantMins: minutes(u(12, 0), u(12, 3)),
		},
		{
			name: "two spans in one hour, its minutes kept: read from its known minutes",
			done: u(12, 0), kept: u(9, 30), from: at(10, 0, 0), to: at(12, 1, 0),
			unknown:   []linkwatch.Span{{From: at(11, 5, 30), To: at(11, 6, 0)}, {From: at(11, 58, 0), To: at(11, 59, 1)}},
			wantHours: []int64{u(10, 0)},
			wantMins:  append(minutes(u(11, 0), u(12, 0), u(11, 5), u(11, 58), u(11, 59)), u(12, 0)),
		},
		{
			name: "an hour whose first minutes are pruned is left out whole",
			done: u(12, 0), kept: u(10, 40), from: at(10, 0, 0), to: at(12, 0, 0),
			unknown:   []linkwatch.Span{{From: at(10, 50, 0), To: at(10, 51, 0)}, {From: at(11, 0, 0), To: at(11, 1, 0)}},
			wantHours: nil, wantMins: minutes(u(11, 1), u(12, 0)),
		},
		{
			name: "a span from before the read and into the minutes after the hours",
			done: u(12, 0), kept: u(9, 0), from: at(10, 0, 0), to: at(12, 5, 0),
			unknown:   []linkwatch.Span{{From: at(8, 0, 0), To: at(12, 2, 10)}},
			wantHours: nil, wantMins: minutes(u(12, 3), u(12, 5)),
		},
		{
			name: "nothing rolled up: minutes only",
			done: 0, kept: u(10, 0), from: at(10, 0, 0), to: at(10, 5, 0),
			unknown:   []linkwatch.Span{{From: at(10, 2, 0), To: at(10, 3, 0)}},
			wantHours: nil, wantMins: minutes(u(10, 0), u(10, 5), u(10, 2)),
		},
		{
			name: "no minutes kept: hours a span touches left out",
			done: u(12, 0), kept: 0, from: at(10, 0, 0), to: at(12, 0, 0),
			unknown:   []linkwatch.Span{{From: at(10, 59, 59), To: at(11, 0, 0)}},
			wantHours: []int64{u(11, 0)}, wantMins: nil,
		},
	}
	for _, tt := range tests {
		hours, mins := PlanReads(tt.done, tt.kept, tt.from, tt.to, tt.unknown).Buckets()
		if !slices.Equal(hours, tt.wantHours) || !slices.Equal(mins, tt.wantMins) {
			t.Errorf("%s:\n hours %v\n want  %v\n minutes %v\n want    %v", tt.name, hours, tt.wantHours, mins, tt.wantMins)
		}
	}
}
