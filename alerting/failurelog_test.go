package alerting_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"linkwatch"
	"linkwatch/alerting"
)

// fullStore is an outbox on a full disk: every write fails, every poll.
type fullStore struct{ alerting.Store }

var errFull = errors.New("database or disk is full")

func (fullStore) FanOut(context.Context, []string) error { return errFull }
func (fullStore) DisabledChannels(context.Context) (map[string]string, error) {
	return map[string]string{}, nil
}
func (fullStore) ClaimDeliveries(context.Context, string, string, time.Duration, int) ([]alerting.Delivery, error) {
	return nil, errFull
}
func (fullStore) ReleaseClaims(context.Context, string) error { return nil }

// fullSubs is the subscriptions' table on that disk: it cannot even be read.
type fullSubs struct{ alerting.SubscriptionStore }

func (fullSubs) ListSubscriptions(context.Context) ([]linkwatch.Subscription, error) {
	return nil, errFull
}

type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), "msg=\""+msg+"\"")
}

// Three minutes of a full disk, polled every second: each failing loop
// (fan-out, a channel's deliveries, reading the subscriptions) logs its
// error once a minute with a count, not 180 times.
func TestDispatcherLogsAFullDiskOncePerMinute(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var out lockedLog
		d := alerting.NewDispatcher(fullStore{}, []alerting.Sink{&countingSink{sent: map[string]int{}}}, nil, slog.New(slog.NewTextHandler(&out, nil)))
		d.Subscribe(fullSubs{}, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { d.Run(ctx); close(done) }()
		time.Sleep(3*time.Minute - time.Millisecond) // the bubble's clock
		synctest.Wait()
		cancel()
		<-done
		for _, msg := range []string{"alert fan-out", "alert delivery", "read webhook subscriptions"} {
			if n := out.count(msg); n != 3 {
				t.Errorf("%q logged %d times in 3 minutes of failures every second, want 3 (at 0, 1 and 2 minutes):\n%s", msg, n, out.buf.String())
			}
		}
		if !strings.Contains(out.buf.String(), "repeated=59 in_last=1m0s") {
			t.Errorf("no line counts the failures it stands for:\n%s", out.buf.String())
		}
	})
}
