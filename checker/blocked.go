package checker

import "errors"

// IsBlocked reports whether err is, or wraps, a refusal by the SSRF guard
// (GuardedDialContext). Other users of the guard, such as alert delivery,
// treat it as final: the address will not become allowed by retrying.
func IsBlocked(err error) bool {
	var b *blockedError
	return errors.As(err, &b)
}
