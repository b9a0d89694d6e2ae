package web

import (
	"context"
	"sync/atomic"
)

// Readiness answers /readyz: ready while the server serves, since that is
// all a visitor needs. The catalog is in memory before the listener gets
// a handler, and redirects, pages and the status page serve from memory;
// storage is not asked (see StorageHealth), so a database outage never
// takes every replica out of the load balancer at once. It fails from
// Stop on, while the process drains.
type Readiness struct {
	stopping atomic.Bool
}

// Stop makes every later Ready fail: the process is shutting down.
func (rd *Readiness) Stop() { rd.stopping.Store(true) }

// Ready returns ErrStopping once Stop was called, else nil.
func (rd *Readiness) Ready(context.Context) error {
	if rd.stopping.Load() {
		return ErrStopping
	}
	return nil
}
