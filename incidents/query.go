package incidents

import (
	"errors"
	"time"
)

// Errors the admin API's store wraps, mapped to 404 and 409.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// Query selects incidents to list.
type Query struct {
	Open  *bool     // only open (true) or resolved (false) ones; nil for both
	Since time.Time // started at or after
	Limit int       // at most this many (default 50)
	// Internal selects only incidents of internal kinds (true: the
	// prober's own) or only public ones (false); nil for both.
	Internal *bool
}
