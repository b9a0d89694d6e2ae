package linkwatch_test

import (
	"strings"
	"testing"
	"time"

	"linkwatch"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// TestParseScheduleRefuses: a schedule that is not five fields, names an
// unknown zone, is not tied to the clock (@every) or never fires is an
// error; a five-field one or a descriptor is read in UTC unless it names
// a zone.
func TestParseScheduleRefuses(t *testing.T) {
	for _, spec := range []string{"", "0 2 * *", "0 2 * * SUN *", "61 2 * * *", "0 2 * * FUNDAY", "@every 1h", "@fortnightly",
		"CRON_TZ=Mars/Olympus 0 2 * * *", "0 0 30 2 *"} {
		if _, err := linkwatch.ParseSchedule(spec); err == nil {
			t.Errorf("ParseSchedule(%q) = nil error", spec)
		}
	}
	from := mustTime(t, "2026-12-07T12:00:00Z")
	for spec, want := range map[string]string{
		"0 2 * * SUN":                      "2026-12-13T02:00:00Z",
		"@daily":                           "2026-12-08T00:00:00Z",
		"CRON_TZ=Europe/Berlin 0 2 * * *":  "2026-12-08T01:00:00Z",
		" CRON_TZ=America/New_York @daily": "2026-12-08T05:00:00Z",
	} {
		s, err := linkwatch.ParseSchedule(spec)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", spec, err)
			continue
		}
		if got := s.Next(from).UTC().Format(time.RFC3339); got != want {
			t.Errorf("%q: next after %s = %s, want %s", spec, from, got, want)
		}
	}
}

// TestRecurringOccurrences: a weekly window's occurrences are windows of
// its duration at each start, none before it was created, each named
// apart (Ref); the one in progress is the first upcoming, and Expand
// lists those already started since a time and the next one only.
func TestRecurringOccurrences(t *testing.T) {
	r := linkwatch.RecurringMaintenance{ID: 3, Title: "patch", Schedule: "0 2 * * SUN", Duration: time.Hour,
		CreatedAt: mustTime(t, "2026-11-20T00:00:00Z")}
	got := r.Occurrences(mustTime(t, "2026-11-01T00:00:00Z"), mustTime(t, "2026-12-07T00:00:00Z"))
	var starts []string
	for _, m := range got {
		starts = append(starts, m.StartsAt.Format(time.RFC3339))
		if m.EndsAt.Sub(m.StartsAt) != time.Hour || m.Recurring != 3 || m.ID != 0 || m.Title != "patch" || m.CreatedAt != r.CreatedAt {
			t.Errorf("occurrence %+v", m)
		}
	}
	if want := "2026-11-22T02:00:00Z 2026-11-29T02:00:00Z 2026-12-06T02:00:00Z"; strings.Join(starts, " ") != want {
		t.Errorf("occurrences = %v, want %s (none before the window was made)", starts, want)
	}
	if got[0].Ref() != "r3-20261122T0200Z" || got[0].Ref() == got[1].Ref() {
		t.Errorf("refs %q, %q", got[0].Ref(), got[1].Ref())
	}
	if ref := (linkwatch.Maintenance{ID: 7}).Ref(); ref != "7" {
		t.Errorf("a one-off window's ref = %q", ref)
	}

	// At 02:30 on a Sunday: in progress, then the next two Sundays.
	now := mustTime(t, "2026-12-06T02:30:00Z")
	up := r.Upcoming(now, 3)
	if len(up) != 3 || !up[0].StartsAt.Equal(mustTime(t, "2026-12-06T02:00:00Z")) || !up[2].StartsAt.Equal(mustTime(t, "2026-12-20T02:00:00Z")) {
		t.Errorf("upcoming at %s = %+v", now, up)
	}
	// The boundaries: at 03:00 it has ended; at 02:00 it has begun.
	if up := r.Upcoming(mustTime(t, "2026-12-06T03:00:00Z"), 1); !up[0].StartsAt.Equal(mustTime(t, "2026-12-13T02:00:00Z")) {
		t.Errorf("upcoming at the end = %+v", up)
	}
	if !r.Upcoming(mustTime(t, "2026-12-06T02:00:00Z"), 1)[0].Covers(mustTime(t, "2026-12-06T02:00:00Z"), nil) {
		t.Error("an occurrence does not cover its own start")
	}

	ex := r.Expand(mustTime(t, "2026-11-01T00:00:00Z"), now)
	if len(ex) != 4 || !ex[3].StartsAt.Equal(mustTime(t, "2026-12-13T02:00:00Z")) {
		t.Errorf("expand = %+v, want three started and the next", ex)
	}
	if bad := (linkwatch.RecurringMaintenance{Schedule: "nonsense", Duration: time.Hour}); len(bad.Upcoming(now, 3)) != 0 {
		t.Error("a schedule that does not parse has occurrences")
	}
}

// TestRecurringAcrossDaylightSaving: a window at 02:30 Berlin time skips
// the night the clocks go forward (02:30 does not exist) and comes twice
// the night they go back, an hour apart: ShortestGap finds that hour, so
// a window of two hours at 02:30 would overlap itself that night.
func TestRecurringAcrossDaylightSaving(t *testing.T) {
	r := linkwatch.RecurringMaintenance{ID: 1, Schedule: "CRON_TZ=Europe/Berlin 30 2 * * *", Duration: 30 * time.Minute}
	var spring []string
	for _, m := range r.Occurrences(mustTime(t, "2027-03-27T00:00:00Z"), mustTime(t, "2027-03-30T00:00:00Z")) {
		spring = append(spring, m.StartsAt.Format(time.RFC3339))
	}
	if want := "2027-03-27T01:30:00Z 2027-03-29T00:30:00Z"; strings.Join(spring, " ") != want {
		t.Errorf("spring = %v, want %s (none on the 28th)", spring, want)
	}
	var autumn []string
	for _, m := range r.Occurrences(mustTime(t, "2026-10-24T12:00:00Z"), mustTime(t, "2026-10-26T12:00:00Z")) {
		autumn = append(autumn, m.StartsAt.Format(time.RFC3339))
	}
	if want := "2026-10-25T00:30:00Z 2026-10-25T01:30:00Z 2026-10-26T01:30:00Z"; strings.Join(autumn, " ") != want {
		t.Errorf("autumn = %v, want %s", autumn, want)
	}

	s, err := linkwatch.ParseSchedule(r.Schedule)
	if err != nil {
		t.Fatal(err)
	}
	gap, a, b := linkwatch.ShortestGap(s, mustTime(t, "2026-12-07T00:00:00Z"))
	if gap != time.Hour || !a.Equal(mustTime(t, "2027-10-31T00:30:00Z")) || !b.Equal(mustTime(t, "2027-10-31T01:30:00Z")) {
		t.Errorf("shortest gap = %s from %s to %s, want an hour on 31 October 2027", gap, a, b)
	}
	utc, _ := linkwatch.ParseSchedule("30 2 * * *")
	if gap, _, _ := linkwatch.ShortestGap(utc, mustTime(t, "2026-12-07T00:00:00Z")); gap != 24*time.Hour {
		t.Errorf("UTC daily gap = %s", gap)
	}
	// Every minute: the scan stops at its bound, and the gap is a minute.
	minutely, _ := linkwatch.ParseSchedule("CRON_TZ=Europe/Berlin * * * * *")
	if gap, _, _ := linkwatch.ShortestGap(minutely, mustTime(t, "2026-12-07T00:00:00Z")); gap != time.Minute {
		t.Errorf("minutely gap = %s", gap)
	}
}
