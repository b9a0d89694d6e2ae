package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"linkwatch"

	"golang.org/x/term"

	"linkwatch/checker/schedule"
)

// progressEvery is how often `check` rewrites its progress line: often
// enough to look alive, rarely enough not to flood a slow terminal.
const progressEvery = 250 * time.Millisecond

// isTerminal reports whether w is a terminal; progress is for people, so
// CI logs and pipes get none.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress counts a round's checks as they finish and, while it runs,
// rewrites one line of w in place ("\rchecked 812/20000, 3 down").
type progress struct {
	prober schedule.Prober
	total  int
	done   atomic.Int64
	down   atomic.Int64
}

// Check checks t with the wrapped prober and counts the result.
func (p *progress) Check(ctx context.Context, t linkwatch.Target) linkwatch.Result {
	r := p.prober.Check(ctx, t)
	if r.Status == linkwatch.StatusDown {
		p.down.Add(1)
	}
	p.done.Add(1)
	return r
}

func (p *progress) line() string {
	return fmt.Sprintf("\rchecked %d/%d, %d down", p.done.Load(), p.total, p.down.Load())
}

// show writes the line to w every progressEvery while it changes, until
// the returned stop is called; stop writes the final count and ends the
// line, so what follows starts on a line of its own.
func (p *progress) show(w io.Writer) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		last := ""
		for {
			select {
			case <-quit:
				fmt.Fprintln(w, p.line())
				return
			case <-tick.C:
				if l := p.line(); l != last {
					_, _ = io.WriteString(w, l)
					last = l
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit); <-finished })
	}
}
