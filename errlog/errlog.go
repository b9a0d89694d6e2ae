// Package errlog logs an error that repeats once per interval with a
// count, not once per occurrence: a full disk fails every write of every
// loop, every second, and one line a second each says nothing the first
// did not.
package errlog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultEvery is how often, at most, a Reporter writes a line for the
// same failure.
const DefaultEvery = time.Minute

// Reporter logs the failures of one operation (a loop's write, a poll):
// the first at once, then at most one line per Every, which says how many
// more there were since the line before ("repeated" times "in_last" that
// long), and a line when the operation succeeds again. It is safe for
// concurrent use.
type Reporter struct {
	Log   *slog.Logger
	Msg   string           // what failed, the message of every line
	Attrs []any            // attributes of every line (which channel, which job)
	Every time.Duration    // default DefaultEvery
	Now   func() time.Time // default time.Now

	mu      sync.Mutex
	failing bool      // an error since the last success
	logged  time.Time // when the last line was written
	repeats int       // errors since then, not written
}

// Report reports an attempt's outcome: a failure if err is not nil, a
// success if it is. Once ctx has ended it reports nothing: an error then
// is the process stopping, not a failure.
func (r *Reporter) Report(ctx context.Context, err error, args ...any) {
	switch {
	case ctx.Err() != nil:
	case err != nil:
		r.Error(ctx, err, args...)
	default:
		r.OK(ctx)
	}
}

// Error reports a failure of the operation, with args as the attributes
// of its line (err is added).
func (r *Reporter) Error(ctx context.Context, err error, args ...any) {
	r.mu.Lock()
	now := r.now()
	if r.failing && now.Sub(r.logged) < r.every() {
		r.repeats++
		r.mu.Unlock()
		return
	}
	repeats, since := r.repeats, now.Sub(r.logged)
	r.failing, r.logged, r.repeats = true, now, 0
	r.mu.Unlock()
	args = append(append(args, r.Attrs...), "err", err)
	if repeats > 0 {
		args = append(args, "repeated", repeats, "in_last", since.Round(time.Second))
	}
	r.Log.ErrorContext(ctx, r.Msg, args...)
}

// OK reports a success of the operation: after failures, a line says it
// recovered (and how many failures went unwritten), and the next failure
// is written at once.
func (r *Reporter) OK(ctx context.Context) {
	r.mu.Lock()
	if !r.failing {
		r.mu.Unlock()
		return
	}
	repeats, since := r.repeats, r.now().Sub(r.logged)
	r.failing, r.repeats = false, 0
	r.mu.Unlock()
	args := r.Attrs
	if repeats > 0 {
		args = append(args[:len(args):len(args)], "repeated", repeats, "in_last", since.Round(time.Second))
	}
	r.Log.InfoContext(ctx, r.Msg+": recovered", args...)
}

func (r *Reporter) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

func (r *Reporter) every() time.Duration {
	if r.Every <= 0 {
		return DefaultEvery
	}
	return r.Every
}

// Set is the Reporters of a component's operations (a loop's each
// failing step, a channel's deliveries), made when first needed, writing
// to one log on one clock. The zero Set logs nothing until Log is set.
type Set struct {
	Log *slog.Logger
	Now func() time.Time // default time.Now

	mu sync.Mutex
	m  map[string]*Reporter
}

// For returns the Reporter of the operation msg, for the instance attrs
// name (attributes of its every line: which channel), if any.
func (s *Set) For(msg string, attrs ...any) *Reporter {
	key := setKey(msg, attrs)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.m[key]
	if r == nil {
		if s.m == nil {
			s.m = map[string]*Reporter{}
		}
		r = &Reporter{Log: s.Log, Msg: msg, Attrs: attrs, Now: s.now}
		s.m[key] = r
	}
	return r
}

// Forget drops the Reporter For(msg, attrs...) returned: its instance is
// gone (a subscription deleted).
func (s *Set) Forget(msg string, attrs ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, setKey(msg, attrs))
}

func setKey(msg string, attrs []any) string {
	if len(attrs) == 0 {
		return msg
	}
	return msg + "\x00" + fmt.Sprint(attrs...)
}

func (s *Set) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}
