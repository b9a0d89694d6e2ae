package linkwatch

import "errors"

// Errors a store wraps, so every layer can tell them apart: the admin API
// answers 404 and 409.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)
