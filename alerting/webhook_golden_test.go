package alerting_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
)

// TestWebhookPayloadIsStable: the bytes a receiver gets for an alert with
// a full last_result (a self-check's, with a series; hops with every
// phase; a Retry-After; a check started in another time zone) are the
// ones in testdata/webhook_opened.json, written by the release that
// introduced the _ms fields: receivers parse them, and some compare them.
func TestWebhookPayloadIsStable(t *testing.T) {
	t.Parallel()
	rc, srv := newReceiver(t)
	wh, err := alerting.NewWebhook("ops", srv.URL+"/hook", testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert(7, linkwatch.AlertOpened)
	a.LastResult = &linkwatch.Result{TargetID: linkwatch.SelfCheckID("acme", "shop"), Series: linkwatch.SelfSeriesID("acme"), Kind: linkwatch.TargetSelfCheck,
		URL: "http://127.0.0.1:8080/acme/shop", Start: a.CreatedAt.In(time.FixedZone("CET", 3600)), Latency: 1234567 * time.Nanosecond,
		Status: linkwatch.StatusDegraded, StatusCode: 429, Cause: linkwatch.CauseRateLimited, Summary: "429 Too Many Requests", Error: "rate limited",
		RetryAfter: 30*time.Second + 7*time.Microsecond, FinalURL: "https://shop.example/", TLSExpiry: a.CreatedAt.Add(90 * 24 * time.Hour), BytesRead: 512, Fresh: true,
		Hops: []linkwatch.Hop{
			{URL: "http://127.0.0.1:8080/acme/shop", StatusCode: 302, Location: "https://shop.example/", NewConn: true,
				Phases: linkwatch.Phases{DNS: 0, Connect: 100 * time.Microsecond, FirstByte: 3 * time.Millisecond, Transfer: 1}},
			{URL: "https://shop.example/", StatusCode: 429, NewConn: true, Resumed: true, Phases: linkwatch.Phases{DNS: 2 * time.Millisecond,
				Connect: 3500 * time.Microsecond, TLS: 20 * time.Millisecond, FirstByte: 250 * time.Millisecond, Transfer: time.Millisecond}},
		}}
	if err := wh.Send(context.Background(), alerting.Delivery{Alert: a}); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	got := rc.raw[0]
	rc.mu.Unlock()
	golden := filepath.Join("testdata", "webhook_opened.json")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the payload changed:\ngot  %s\nwant %s", got, want)
	}
}
