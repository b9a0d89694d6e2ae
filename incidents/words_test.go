package incidents_test

import (
	"testing"
	"time"

	"linkwatch/incidents"
)

func TestHumanDurations(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		20 * time.Second:                  "less than a minute",
		time.Minute:                       "1 minute",
		6*time.Minute + 10*time.Second:    "6 minutes",
		time.Hour:                         "1 hour",
		2*time.Hour + 5*time.Minute:       "2 hours 5 minutes",
		3*24*time.Hour + 4*time.Hour + 59: "3 days 4 hours",
	} {
		if got := incidents.HumanDuration(d); got != want {
			t.Errorf("HumanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
