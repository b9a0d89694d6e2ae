package alerting

import (
	"time"

	"golang.org/x/time/rate"
)

// SetSlackPace replaces a Slack channel's pace (a message a second, as
// Slack allows) in tests that are not about it.
func SetSlackPace(s *Slack, every time.Duration) { s.limiter = rate.NewLimiter(rate.Every(every), 1) }

// WaitSlackActions waits for the work of the requests h has answered.
func WaitSlackActions(h *SlackActions) { h.wg.Wait() }
