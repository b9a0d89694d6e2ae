package alerting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"linkwatch"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"linkwatch/alerting"
)

// webhookSchema compiles the documented payload schema, with formats
// (date-time, uri) asserted.
func webhookSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("webhook.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("webhook.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("webhook.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, body []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return sch.Validate(v)
}

// The payloads a receiver really gets, for every alert type, match the
// schema file, and durations arrive in milliseconds.
func TestWebhookPayloadsMatchTheSchema(t *testing.T) {
	t.Parallel()
	sch := webhookSchema(t)
	rc, srv := newReceiver(t)
	wh, err := alerting.NewWebhook("ops", srv.URL+"/hook", testSecret, nil)
	if err != nil {
		t.Fatal(err)
	}
	opened := testAlert(7, linkwatch.AlertOpened)
	opened.LastResult = &linkwatch.Result{TargetID: "https://shop.example/", Kind: linkwatch.TargetDestination, URL: "https://shop.example/",
		Start: opened.CreatedAt, Latency: 1500 * time.Millisecond, Status: linkwatch.StatusDegraded, StatusCode: 429,
		Cause: linkwatch.CauseRateLimited, Summary: "429 Too Many Requests", RetryAfter: 30 * time.Second, FinalURL: "https://shop.example/",
		TLSExpiry: opened.CreatedAt.Add(90 * 24 * time.Hour), BytesRead: 512,
		Hops: []linkwatch.Hop{{URL: "https://shop.example/", StatusCode: 429, NewConn: true, Resumed: true, Phases: linkwatch.Phases{DNS: 2 * time.Millisecond,
			Connect: 3500 * time.Microsecond, TLS: 20 * time.Millisecond, FirstByte: 250 * time.Millisecond, Transfer: time.Millisecond}}}}
	updated := testAlert(7, linkwatch.AlertUpdated)
	updated.Reason = "target_added"
	updated.Added = []linkwatch.Affected{{Page: "acme", Link: "cart", URL: "https://shop.example/cart"}}
	updated.Added[0].Fallback = "https://backup.example/cart"
	switched := testAlert(7, linkwatch.AlertUpdated)
	switched.Reason = linkwatch.ReasonFallback
	switched.Incident.Affected[0].Fallback, switched.Incident.Affected[0].Diverted = "https://backup.example/shop", true
	acked := testAlert(7, linkwatch.AlertUpdated)
	acked.Reason = string(linkwatch.EventAcknowledged)
	acked.Incident.AcknowledgedAt, acked.Incident.AcknowledgedBy = acked.CreatedAt, "alice"
	resolved := testAlert(7, linkwatch.AlertResolved)
	resolved.Update = &linkwatch.Update{ID: 3, IncidentID: 7, Status: linkwatch.StatusResolved, Body: "moved the shop", CreatedAt: resolved.CreatedAt}
	resolved.LastResult = nil
	resolved.Incident.Postmortem = linkwatch.Postmortem{PrimaryCause: "expired certificate", Published: true, UpdatedAt: resolved.CreatedAt}
	posted := testAlert(7, linkwatch.AlertUpdated)
	posted.Reason = string(linkwatch.EventUpdatePosted)
	posted.Earlier = []linkwatch.Update{{ID: 1, IncidentID: 7, Status: linkwatch.StatusIdentified, Body: "found it", CreatedAt: posted.CreatedAt}}
	posted.Update = &linkwatch.Update{ID: 2, IncidentID: 7, Status: linkwatch.StatusMonitoring, Body: "fixed, watching", CreatedAt: posted.CreatedAt}
	for _, a := range []linkwatch.Alert{opened, updated, switched, acked, resolved, posted} {
		if err := wh.Send(context.Background(), alerting.Delivery{Alert: a}); err != nil {
			t.Fatal(err)
		}
	}
	rc.mu.Lock()
	raw := rc.raw
	rc.mu.Unlock()
	if len(raw) != 6 {
		t.Fatalf("%d payloads received", len(raw))
	}
	for i, body := range raw {
		if err := validate(t, sch, body); err != nil {
			t.Errorf("payload %d does not match webhook.schema.json: %v\n%s", i, err, body)
		}
	}
	// The payload as a receiver reads it: durations in milliseconds.
	var payload struct {
		Data struct {
			LastResult *struct {
				LatencyMS    float64 `json:"latency_ms"`
				RetryAfterMS float64 `json:"retry_after_ms"`
				Hops         []struct {
					ConnectMS   float64 `json:"connect_ms"`
					FirstByteMS float64 `json:"first_byte_ms"`
					NewConn     bool    `json:"new_conn"`
					Resumed     bool    `json:"resumed"`
				} `json:"hops"`
			} `json:"last_result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw[0], &payload); err != nil {
		t.Fatal(err)
	}
	got := payload.Data.LastResult
	if got == nil || got.LatencyMS != 1500 || got.RetryAfterMS != 30000 || got.Hops[0].ConnectMS != 3.5 || got.Hops[0].FirstByteMS != 250 {
		t.Errorf("last_result durations are not milliseconds: %+v", got)
	}
	if got != nil && (!got.Hops[0].NewConn || !got.Hops[0].Resumed) {
		t.Errorf("the hop's new_conn and resumed are lost: %+v", got.Hops[0])
	}
	if strings.Contains(string(raw[0]), `"latency":`) || strings.Contains(string(raw[0]), `"phases":`) {
		t.Errorf("payload still has nanosecond fields:\n%s", raw[0])
	}
}

// The schema rejects what it must: a nanosecond field, a missing
// required one, a wrong type or format.
func TestWebhookSchemaRejects(t *testing.T) {
	t.Parallel()
	sch := webhookSchema(t)
	base := `{"type":"incident.opened","timestamp":"2026-11-22T12:00:00Z","data":{"event_id":"e1","incident":{"id":1,"key":"k","kind":"destination","title":"t","cause":"dns","summary":"s","status":"investigating","impact":"major","flapping":false,"targets":[],"affected":[],"started_at":"2026-11-22T12:00:00Z","updated_at":"2026-11-22T12:00:00Z","alerts_suppressed":false,"postmortem":{"primary_cause":"","contributing_factors":"","why_not_caught":"","notes":"","published":false}}%s}}`
	result := `,"last_result":{"target_id":"u","kind":"destination","url":"u","start":"2026-11-22T12:00:00Z","latency_ms":1.5,"status":"down","bytes_read":0%s}`
	if err := validate(t, sch, []byte(strings.Replace(base, "%s", strings.Replace(result, "%s", "", 1), 1))); err != nil {
		t.Fatalf("a valid payload is rejected: %v", err)
	}
	for name, body := range map[string]string{
		"nanoseconds":    strings.Replace(base, "%s", strings.Replace(result, "%s", `,"latency":1500000`, 1), 1),
		"unknown type":   strings.Replace(strings.Replace(base, "%s", "", 1), "incident.opened", "incident.deleted", 1),
		"bad timestamp":  strings.Replace(strings.Replace(base, "%s", "", 1), `"timestamp":"2026-11-22T12:00:00Z"`, `"timestamp":"yesterday"`, 1),
		"no event id":    strings.Replace(strings.Replace(base, "%s", "", 1), `"event_id":"e1",`, "", 1),
		"bad fallback":   strings.Replace(strings.Replace(base, "%s", "", 1), `"affected":[]`, `"affected":[{"page":"a","link":"b","url":"https://x.example/","fallback":"not a url","diverted":true}]`, 1),
		"latency string": strings.Replace(base, "%s", strings.Replace(strings.Replace(result, "%s", "", 1), `"latency_ms":1.5`, `"latency_ms":"1.5ms"`, 1), 1),
	} {
		if err := validate(t, sch, []byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestWebhookSchemaKnowsEveryCause: every linkwatch.Cause constant is in the
// schema's cause enum, so a new cause cannot make real payloads invalid.
func TestWebhookSchemaKnowsEveryCause(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("webhook.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs struct {
			Cause struct {
				Enum []string `json:"enum"`
			} `json:"cause"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "../cause.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var causes []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Cause" {
				continue
			}
			for _, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					causes = append(causes, s)
				}
			}
		}
	}
	if len(causes) < 20 {
		t.Fatalf("found only %d causes in cause.go", len(causes))
	}
	for _, c := range causes {
		if !slices.Contains(schema.Defs.Cause.Enum, c) {
			t.Errorf("cause %q is missing from webhook.schema.json", c)
		}
	}
}
