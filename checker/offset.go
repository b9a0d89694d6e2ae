package checker

import (
	"hash/fnv"
	"time"
)

// Offset is a stable place for id within an interval: where in each
// interval the scheduler starts a target's check, and where in each
// fresh_every a host's fresh check falls.
func Offset(id string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(interval))
}
