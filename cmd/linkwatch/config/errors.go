package config

import (
	"fmt"
	"strings"
)

// FieldError is a config error at a field path such as pages[1].links[0].url.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

// Error holds every problem found in a config file, so a user fixes
// them all in one pass.
type Error struct {
	Source string
	Errs   []*FieldError
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d config error(s):", e.Source, len(e.Errs))
	for _, fe := range e.Errs {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

func (e *Error) add(path, format string, args ...any) {
	e.Errs = append(e.Errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}
