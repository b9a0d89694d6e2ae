package errlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lines returns the JSON log lines written to buf.
func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

// A disk full for three minutes, failing a write every second: four
// lines, not 180; then one line when it recovers, and the next failure is
// written at once.
func TestReporterLogsOncePerInterval(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	r := &Reporter{Log: slog.New(slog.NewJSONHandler(&buf, nil)), Msg: "flush clicks", Now: func() time.Time { return now }}
	ctx := context.Background()
	full := errors.New("database or disk is full")
	for i := range 181 {
		r.Error(ctx, full, "batch", i)
		if i < 180 {
			now = now.Add(time.Second)
		}
	}
	got := lines(t, &buf)
	if len(got) != 4 {
		t.Fatalf("%d lines for 181 failures over 3 minutes, want 4:\n%v", len(got), got)
	}
	if got[0]["level"] != "ERROR" || got[0]["msg"] != "flush clicks" || got[0]["err"] != full.Error() || got[0]["repeated"] != nil || got[0]["batch"] != 0.0 {
		t.Errorf("first line: %v", got[0])
	}
	for i, l := range got[1:] {
		if l["level"] != "ERROR" || l["repeated"] != 59.0 || l["in_last"] != float64(time.Minute) || l["batch"] != float64(60*(i+1)) {
			t.Errorf("summary %d: %v, want 59 more in the last 1m0s, with the latest failure's attributes", i+1, l)
		}
	}
	now = now.Add(time.Second)
	r.Error(ctx, full)
	now = now.Add(time.Second)
	r.OK(ctx)
	r.OK(ctx)
	got = lines(t, &buf)
	if len(got) != 1 || got[0]["level"] != "INFO" || got[0]["msg"] != "flush clicks: recovered" || got[0]["repeated"] != 1.0 {
		t.Fatalf("recovery: %v, want one line counting the failure not written", got)
	}
	// Recovered: the next failure is news, written at once.
	now = now.Add(time.Second)
	r.Error(ctx, full)
	r.OK(ctx)
	got = lines(t, &buf)
	if len(got) != 2 || got[0]["level"] != "ERROR" || got[0]["repeated"] != nil || got[1]["repeated"] != nil {
		t.Fatalf("after recovery: %v", got)
	}
}

func TestReporterIsSafeForConcurrentUse(t *testing.T) {
	var buf syncBuffer
	r := &Reporter{Log: slog.New(slog.NewJSONHandler(&buf, nil)), Msg: "drain", Every: time.Hour}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				r.Error(context.Background(), errors.New("locked"))
			}
		})
	}
	wg.Wait()
	r.OK(context.Background())
	if n := strings.Count(buf.String(), "\n"); n != 2 || !strings.Contains(buf.String(), `"repeated":799`) {
		t.Errorf("800 failures within the interval, then a success: %d lines, want 2 (the first, then recovered with 799 more):\n%s", n, buf.String())
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
