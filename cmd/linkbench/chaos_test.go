package main

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestChaosFlags: a bad flag is a clear error before anything starts (no
// build, no server, no replica).
func TestChaosFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-replicas", "0"}, "-replicas must be at least 1"},
		{[]string{"-hosts", "251"}, "-hosts must be from 1 to 250"},
		{[]string{"-per-host", "0"}, "-per-host must be at least 1"},
		{[]string{"-interval", "500ms"}, "-interval must be at least 1s"},
		{[]string{"-rate", "0"}, "-rate must be above 0"},
		{[]string{"-rate", "NaN"}, "-rate must be above 0"},
		{[]string{"-ready-every", "0s"}, "-ready-every must be positive"},
		{[]string{"-kill-every", "-1s"}, "must not be negative"},
		{[]string{"-kill-every", "30s", "-restart-after", "30s"}, "-restart-after must be from 0 to less than -kill-every"},
		{[]string{"-host-fail-every", "90s", "-host-fail-for", "90s"}, "-host-fail-for must be positive and shorter"},
		{[]string{"-host-fail-for", "0s"}, "-host-fail-for must be positive and shorter"},
		{[]string{"-db-restart-every", "1m", "-db-down", "1m"}, "-db-down must be positive and shorter"},
		{[]string{"-settle", "15s"}, "-settle must be at least 2 intervals (20s)"},
		{[]string{"-duration", "3m"}, "-duration (3m0s) must leave room"},
		// Ten minutes leave 7 of chaos: an outage every 20 minutes would
		// start 10 minutes in, after the chaos.
		{[]string{"-duration", "10m", "-db-restart-every", "20m"}, "make it at most 12m30s, or 0 for none"},
		{[]string{"-duration", "soon"}, "invalid value"},
		{[]string{"-replicas", "3", "extra"}, `unexpected arguments ["extra"]`},
	} {
		err := runChaos(context.Background(), tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want an error saying %q", tc.args, err, tc.want)
		}
	}
}

// TestHookSink: the receiver logs what a channel got, a re-send of a
// webhook-id as a delivery of its own, an event type it does not know
// too; a delivery that is not signed with the secret, or not JSON, is
// refused and logged apart; await finds the delivery a caller waits for.
func TestHookSink(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("test-secret-0123456789abcdef"))
	sink, err := newHookSink(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.srv.Close()
	signer, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	post := func(channel, id, body string, sign bool) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+sink.addr+"/hook/"+channel, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		sig := "v1,bm90IHRoZSBzaWduYXR1cmU="
		if sign {
			if sig, err = signer.Sign(id, now, []byte(body)); err != nil {
				t.Fatal(err)
			}
		}
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	opened := `{"type":"incident.opened","data":{"incident":{"id":7,"targets":["http://127.0.0.2:80/d0"]}}}`
	for _, d := range []struct {
		channel, id, body string
		sign              bool
		want              int
	}{
		{"ops", "msg_1", opened, true, 200},
		{"ops", "msg_1", opened, true, 200}, // a re-send
		{"audit", "msg_2", `{"type":"storage.unreachable","data":{"replica":{"id":"r-1"}}}`, true, 200},
		{"ops", "msg_3", `{"type":"something.new","data":{}}`, true, 200},
		{"ops", "msg_4", opened, false, 400},
		{"ops", "msg_5", `not json`, true, 400},
		{"ops", "msg_6", `{"type":"incident.opened","data":{"incident":{"id":"seven"}}}`, true, 400},
	} {
		if got := post(d.channel, d.id, d.body, d.sign); got != d.want {
			t.Errorf("%s %s %q: status %d, want %d", d.channel, d.id, d.body, got, d.want)
		}
	}
	alerts, bad := sink.log()
	if len(alerts) != 4 {
		t.Fatalf("logged %+v; want the 4 verified deliveries", alerts)
	}
	if a := alerts[0]; a.channel != "ops" || a.id != "msg_1" || a.typ != "incident.opened" || a.incident != 7 ||
		len(a.targets) != 1 || a.targets[0] != "http://127.0.0.2:80/d0" {
		t.Errorf("first delivery logged as %+v", a)
	}
	if a := alerts[2]; a.channel != "audit" || a.typ != "storage.unreachable" || a.replica != "r-1" {
		t.Errorf("storage delivery logged as %+v", a)
	}
	if len(bad) != 3 {
		t.Errorf("refused %q; want the unsigned, the non-JSON and the mistyped deliveries", bad)
	}
	if got := unjudgedAlerts(alerts); len(got) != 1 || got["something.new"] != 1 {
		t.Errorf("unjudged %v; want something.new once", got)
	}

	// await: a delivery logged already, one that comes while it waits,
	// and none before its context ends.
	if a, err := sink.await(context.Background(), time.Time{}, func(a alert) bool { return a.typ == "storage.unreachable" }); err != nil || a.id != "msg_2" {
		t.Errorf("await a logged delivery: %+v, %v", a, err)
	}
	since := time.Now()
	got := make(chan alert)
	go func() {
		a, _ := sink.await(context.Background(), since, func(a alert) bool { return a.typ == "incident.opened" })
		got <- a
	}()
	post("audit", "msg_7", opened, true)
	if a := <-got; a.id != "msg_7" {
		t.Errorf("await a delivery to come: %+v, want msg_7 (not msg_1, before it began)", a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sink.await(ctx, time.Now(), func(alert) bool { return true }); err == nil {
		t.Error("await without a delivery returned no error when its context ended")
	}
}

// TestBalancerRetries: a replica that refuses the connection, or cuts it
// before answering, sends the visitor to the next ready one, counted apart;
// a replica that answers anything but a redirect is the visitor's failure,
// and with none ready the visitor gets nothing.
func TestBalancerRetries(t *testing.T) {
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://example.com/", http.StatusFound)
	}))
	defer redirect.Close()
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer cut.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer broken.Close()
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedAddr := refused.Listener.Addr().String()
	refused.Close()
	addr := func(s *httptest.Server) string { return s.Listener.Addr().String() }

	b := newBalancer([]*chaosReplica{{slot: 0, addr: refusedAddr}, {slot: 1, addr: addr(cut)}, {slot: 2, addr: addr(redirect)}})
	b.ready = []bool{true, true, true}
	for range 3 { // whichever replica is first in turn
		if rd := b.redirect("/p/l"); rd.err != "" || rd.replica != 2 {
			t.Errorf("redirect %+v; want it answered by replica 2", rd)
		}
	}
	b.ready = []bool{true, true, false}
	if rd := b.redirect("/p/l"); rd.err == "" || rd.retried+rd.cut != 2 {
		t.Errorf("with only a refusing and a cutting replica ready: %+v; want a failure after both", rd)
	}
	b = newBalancer([]*chaosReplica{{slot: 0, addr: addr(broken)}})
	b.ready = []bool{true}
	if rd := b.redirect("/p/l"); rd.err != "status 503" {
		t.Errorf("a 503: %+v; want the visitor's failure", rd)
	}
	b.ready = []bool{false}
	if rd := b.redirect("/p/l"); rd.err != "no ready replica" {
		t.Errorf("none ready: %+v", rd)
	}
}
