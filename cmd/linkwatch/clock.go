package main

import (
	"fmt"
	"time"
)

// clockSkewEnv skews this process's clock by a Go duration ("-5m"): a
// replica on a machine whose clock is off. Only tests set it: the
// replicas' leases, claims and shared times go by the database's clock,
// and this is how a test shows that a replica's own clock plays no part
// (libfaketime cannot skew a Go binary, which reads the clock through the
// vDSO, not libc).
const clockSkewEnv = "LINKWATCH_TEST_CLOCK_SKEW"

// processClock is this process's clock: time.Now, skewed by
// LINKWATCH_TEST_CLOCK_SKEW when it is set.
func processClock(getenv func(string) string) (func() time.Time, error) {
	v := getenv(clockSkewEnv)
	if v == "" {
		return time.Now, nil
	}
	skew, err := time.ParseDuration(v)
	if err != nil {
		return nil, fmt.Errorf("%s: not a duration (such as -5m): %q", clockSkewEnv, v)
	}
	return func() time.Time { return time.Now().Add(skew) }, nil
}
