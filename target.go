package linkwatch

import "time"

// DefaultInterval is how often each target is checked when probe.interval
// is not set: the scheduler, the engine's regions and the status page's
// check-to-minute arithmetic all read this one value.
const DefaultInterval = 10 * time.Second

// TargetKind says what a target is, which decides how it is checked.
type TargetKind string

const (
	// TargetDestination is a link's destination URL, followed through redirects.
	TargetDestination TargetKind = "destination"
	// TargetSelfCheck is the hub's own /{page}/{link}, requested through the
	// public URL without following it: it must answer 302 to the destination.
	TargetSelfCheck TargetKind = "self_check"
	// TargetCanary is a well-known URL that should always be up; when it fails
	// along with everything else, the prober's own network is at fault.
	TargetCanary TargetKind = "canary"
)

// Target is one thing to check.
type Target struct {
	// ID is stable across restarts and config reloads: the URL for a
	// destination, "self:/{page}/{link}" for a self-check.
	ID   string
	Kind TargetKind
	URL  string

	Expect Expect

	// WantLocation is, for a self-check, the Location the hub must answer.
	WantLocation string
	// AltLocation is, for a self-check, the other Location the hub may
	// answer: the link's fallback, where visitors go while its destination
	// is down (Options.Diverted says when). That is the hub working, not a
	// wrong redirect; at any other time it is.
	AltLocation string

	// Series, when set, is the ID the target's results are aggregated under
	// in the rollups, so many targets can share one history (the self-checks
	// of one page); empty means the target's own ID.
	Series string
}

// Expect is what a healthy answer looks like beyond "2xx".
type Expect struct {
	// Status lists the accepted final status codes; empty means any 2xx.
	Status []int
	// BodyContains is text the body must contain (catches soft 404s: a 200
	// page that says "product not found").
	BodyContains string
	// FinalHost is the host the redirect chain must end on; a chain that
	// ends elsewhere is redirect_changed.
	FinalHost string
}
