package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
	"linkwatch/cmd/linkwatch/config"
	"linkwatch/storage/sqlite/sqlitetest"
)

// countServer is a loopback receiver that counts requests and answers with
// handler.
func countServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// alertSinks builds every configured channel for alerts config yaml.
func alertSinks(t *testing.T, probe, alerts string) []alerting.Sink {
	t.Helper()
	cfg, err := config.Parse(t.Context(), []byte(probe+"\nalerts:\n"+alerts+"\n"+validPages), "test.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	sentry, err := newSentry(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sentry != nil {
		t.Cleanup(sentry.Close)
	}
	sinks, err := newSinks(cfg, sqlitetest.MustOpen(t), sentry)
	if err != nil {
		t.Fatal(err)
	}
	return sinks
}

func testDelivery() alerting.Delivery {
	now := time.Now()
	return alerting.Delivery{ID: 1, Alert: linkwatch.Alert{EventID: "ev1", Type: linkwatch.AlertOpened, IncidentID: 1, CreatedAt: now,
		Incident: linkwatch.Incident{ID: 1, Key: "dest:https://go.dev/", Kind: linkwatch.KindDestination, Title: "ada/go is down",
			Status: linkwatch.StatusInvestigating, Impact: linkwatch.ImpactMajor, StartedAt: now, UpdatedAt: now}}}
}

// Slack, Sentry and webhooks all dial through the prober's SSRF guard: a
// receiver on loopback without probe.allow_private gets nothing, and the
// refusal is final: dead-lettered at once, not retried for a day.
func TestEveryAlertChannelIsGuarded(t *testing.T) {
	srv, hits := countServer(t, func(w http.ResponseWriter, r *http.Request) {})
	sinks := alertSinks(t, "", `
  slack: {webhook_url: "`+srv.URL+`/services/T0/B0/SECRET"}
  sentry: {dsn: "`+strings.Replace(srv.URL, "http://", "http://publickey@", 1)+`/42"}
  webhooks: [{name: ops, url: "`+srv.URL+`/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]`)
	if len(sinks) != 3 {
		t.Fatalf("%d sinks, want 3", len(sinks))
	}
	for _, s := range sinks {
		err := s.Send(t.Context(), testDelivery())
		var se *alerting.SendError
		switch {
		case err == nil:
			t.Errorf("%s: delivered to loopback without allow_private", s.Name())
		case !strings.Contains(err.Error(), "private or reserved"):
			t.Errorf("%s: err = %v, want the SSRF guard's refusal", s.Name(), err)
		case !errors.As(err, &se) || se.Retry:
			t.Errorf("%s: a refusal by the SSRF guard is retried (%v); want it dead-lettered at once", s.Name(), err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback receiver got %d requests", n)
	}
}

// No channel follows a redirect: a receiver on an allowed address that
// answers 302 to another one is an undelivered alert, and the other
// address never hears of it.
func TestNoAlertChannelFollowsRedirects(t *testing.T) {
	target, targetHits := countServer(t, func(w http.ResponseWriter, r *http.Request) {})
	redirector, hits := countServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/stolen", http.StatusFound)
	})
	sinks := alertSinks(t, "probe: {allow_private: [127.0.0.1/32]}", `
  slack: {webhook_url: "`+redirector.URL+`/services/T0/B0/SECRET"}
  sentry: {dsn: "`+strings.Replace(redirector.URL, "http://", "http://publickey@", 1)+`/42"}
  webhooks: [{name: ops, url: "`+redirector.URL+`/hook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}]`)
	for _, s := range sinks {
		if err := s.Send(t.Context(), testDelivery()); err == nil {
			t.Errorf("%s: a 302 counted as delivered", s.Name())
		}
	}
	if n := hits.Load(); n != int64(len(sinks)) {
		t.Errorf("the allowed receiver got %d requests, want %d (one per channel)", n, len(sinks))
	}
	if n := targetHits.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests: a channel followed the redirect", n)
	}
}

// A webhook subscription's URL is checked, when made, by the same guard
// and allow list as every other outbound request.
func TestSubscriptionURLsUseTheProbeGuard(t *testing.T) {
	srv, hits := countServer(t, func(w http.ResponseWriter, r *http.Request) {})
	for _, tc := range []struct {
		probe string
		ok    bool
	}{{"", false}, {"probe: {allow_private: [127.0.0.1/32]}", true}} {
		cfg, err := config.Parse(t.Context(), []byte(tc.probe+"\n"+validPages), "test.yaml", func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		check := checkReceiverURL(receiverGuard(cfg))
		err = check(t.Context(), srv.URL+"/hook")
		if (err == nil) != tc.ok {
			t.Errorf("%q: loopback URL: %v, want allowed %v", tc.probe, err, tc.ok)
		}
		if err := check(t.Context(), "ftp://hooks.example/"); err == nil {
			t.Errorf("%q: an ftp URL is allowed", tc.probe)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("checking a URL called it %d times", n)
	}
}

// Several Slack entries are several channels, each with its filters.
func TestSeveralSlackEntriesAreSeveralChannels(t *testing.T) {
	sinks := alertSinks(t, "", `
  slack:
    - {name: acme, webhook_url: "https://hooks.slack.example/A", pages: [ada]}
    - {name: ops, webhook_url: "https://hooks.slack.example/B", min_impact: critical}`)
	var names []string
	for _, s := range sinks {
		names = append(names, s.Name())
	}
	if strings.Join(names, ",") != "slack:acme,slack:ops" {
		t.Fatalf("channels = %v", names)
	}
	f, ok := sinks[1].(interface{ Filter() linkwatch.Filter })
	if !ok || f.Filter().MinImpact != linkwatch.ImpactCritical {
		t.Errorf("the ops entry's filters are lost")
	}
}
