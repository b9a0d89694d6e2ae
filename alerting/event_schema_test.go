package alerting_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"linkwatch"
	"linkwatch/alerting"
)

// rawSink records the bodies a webhook really sends.
func rawSink(t *testing.T) (func() [][]byte, *httptest.Server) {
	var mu sync.Mutex
	var bodies [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return func() [][]byte { mu.Lock(); defer mu.Unlock(); return slices.Clone(bodies) }, srv
}

// Every event type a receiver can get (the verification of a
// subscription, and an incident narrowed by a subscriber's filters) is
// sent as the schema says.
func TestVerifyAndFilteredPayloadsMatchTheSchema(t *testing.T) {
	t.Parallel()
	sch := webhookSchema(t)
	bodies, srv := rawSink(t)
	clk := &clock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	sub := linkwatch.Subscription{ID: 9, URL: srv.URL + "/hook", Secret: alerting.NewSecret(), Filter: linkwatch.Filter{Pages: []string{"beta"}}}
	wh, err := alerting.NewSubscriptionWebhook(sub, nil, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(context.Background(), sub.ID); err != nil {
		t.Fatal(err)
	}
	a := testAlert(7, linkwatch.AlertOpened)
	a.Incident.Affected = append(a.Incident.Affected, linkwatch.Affected{Page: "beta", Link: "store", URL: "https://shop.example/store"})
	a.Incident.Targets = append(a.Incident.Targets, "https://shop.example/store")
	narrowed, ok := sub.Filter.Apply(a)
	if !ok {
		t.Fatal("the filter left out an alert about its page")
	}
	if err := wh.Send(context.Background(), alerting.Delivery{Alert: narrowed}); err != nil {
		t.Fatal(err)
	}
	got := bodies()
	if len(got) != 2 {
		t.Fatalf("%d bodies", len(got))
	}
	for i, b := range got {
		if err := validate(t, sch, b); err != nil {
			t.Errorf("body %d does not match webhook.schema.json: %v\n%s", i, err, b)
		}
	}
	var v alerting.VerifyBody
	if err := json.Unmarshal(got[0], &v); err != nil || v.Type != linkwatch.AlertVerify || v.Data.SubscriptionID != 9 || v.Data.EventID == "" || v.Data.URL != sub.URL {
		t.Errorf("verification = %s (%v)", got[0], err)
	}
	var sent alerting.WebhookBody
	if err := json.Unmarshal(got[1], &sent); err != nil {
		t.Fatal(err)
	}
	if inc := sent.Data.Incident; len(inc.Affected) != 1 || inc.Affected[0].Page != "beta" || !slices.Equal(inc.Targets, []string{"https://shop.example/store"}) ||
		sent.Data.LastResult != nil || strings.Contains(string(got[1]), `"page":"acme"`) {
		t.Errorf("the narrowed payload = %s", got[1])
	}
	for name, body := range map[string]string{
		"verify without subscription": `{"type":"subscription.verify","timestamp":"2026-11-22T12:00:00Z","data":{"event_id":"e","url":"https://h.example/"}}`,
		"verify with an incident":     `{"type":"subscription.verify","timestamp":"2026-11-22T12:00:00Z","data":{"event_id":"e","subscription_id":1,"url":"https://h.example/","incident":{}}}`,
		"verify with a bad url":       `{"type":"subscription.verify","timestamp":"2026-11-22T12:00:00Z","data":{"event_id":"e","subscription_id":1,"url":"not a url"}}`,
	} {
		if err := validate(t, sch, []byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestSchemaKnowsEveryEventType: every event type the code sends has its
// schema, so a new one cannot ship undocumented.
func TestSchemaKnowsEveryEventType(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("webhook.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]struct {
			Properties struct {
				Type struct {
					Enum  []string `json:"enum"`
					Const string   `json:"const"`
				} `json:"type"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, d := range schema.Defs {
		documented = append(documented, d.Properties.Type.Enum...)
		if d.Properties.Type.Const != "" {
			documented = append(documented, d.Properties.Type.Const)
		}
	}
	for _, typ := range append(append(slices.Clone(linkwatch.AlertTypes), linkwatch.StorageAlertTypes...), linkwatch.AlertVerify) {
		if !slices.Contains(documented, string(typ)) {
			t.Errorf("event type %s has no schema in webhook.schema.json", typ)
		}
	}
}
