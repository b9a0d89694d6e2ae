package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Through serve's admin API, a subscription's filters are checked as the
// config file's are, against the pages and links being served (a link on
// a page that exists is checked too), and a body that is not one JSON
// object is a 400 that changes nothing.
func TestServeAdminChecksSubscriptionsAsTheConfigDoes(t *testing.T) {
	t.Parallel()
	app := startApp(t, `
server: {admin_token: "`+trustToken+`"}
storage: {path: DBPATH}
probe: {allow_private: [127.0.0.1/32], self_check: false}
pages:
  - slug: acme
    links:
      - {slug: shop, url: "https://127.0.0.1:9/shop"}
`, nil)
	const hook = `"url":"http://127.0.0.1:9/hook"`
	for _, tc := range []struct{ filters, field, msg string }{
		{`{"links":["acme/cart"]}`, "filters.links[0]", `no link "acme/cart" is configured`},
		{`{"links":["beta/shop"]}`, "filters.links[0]", `no page "beta" is configured`},
		{`{"pages":["beta"]}`, "filters.pages[0]", `no page "beta" is configured`},
		{`{"hosts":["<script>"]}`, "filters.hosts[0]", "must be a lowercase host name"},
		{`{"hosts":["shop.example","*"]}`, "filters.hosts[1]", "must be a lowercase host name"},
		{`{"hosts":["é.example"]}`, "filters.hosts[0]", `"xn--9ca.example"`},
	} {
		code, body := adminCall(t, app, "POST", "/api/admin/subscriptions", `{`+hook+`,"filters":`+tc.filters+`}`)
		var e struct{ Error, Field string }
		_ = json.Unmarshal([]byte(body), &e)
		if code != http.StatusBadRequest || e.Field != tc.field || !strings.Contains(e.Error, tc.msg) {
			t.Errorf("filters %s: %d %s, want 400 naming %s: %s", tc.filters, code, body, tc.field, tc.msg)
		}
	}
	if code, body := adminCall(t, app, "GET", "/api/admin/subscriptions", ""); code != 200 || !strings.Contains(body, `"subscriptions": []`) {
		t.Fatalf("refused subscriptions were stored: %d %s", code, body)
	}
	code, body := adminCall(t, app, "POST", "/api/admin/subscriptions", `{`+hook+`,"filters":{"links":["acme/shop"],"hosts":["127.0.0.1","shop.example"]}}`)
	if code != http.StatusCreated {
		t.Fatalf("a subscription to a served link: %d %s", code, body)
	}
	var created struct{ ID int64 }
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.ID == 0 {
		t.Fatalf("created: %s", body)
	}
	sub := "/api/admin/subscriptions/" + jsonID(created.ID)
	// What a request could change (its verification goes on meanwhile).
	changeable := func() string {
		t.Helper()
		_, body := adminCall(t, app, "GET", sub, "")
		var s struct {
			URL, Description string
			Paused           bool
			Filters          json.RawMessage
		}
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(s)
		return string(b)
	}
	before := changeable()
	for _, r := range []struct{ method, path string }{
		{"PATCH", sub}, {"POST", "/api/admin/subscriptions"}, {"PUT", "/api/admin/incidents/1/postmortem"},
		{"POST", "/api/admin/incidents/1/ack"}, {"POST", "/api/admin/maintenance"}, {"POST", "/api/admin/channels"},
	} {
		for _, b := range []string{`null`, `[]`, `"x"`, `7`, `{} {}`} {
			code, body := adminCall(t, app, r.method, r.path, b)
			if code != http.StatusBadRequest || !strings.Contains(body, `"field": "(body)"`) {
				t.Errorf("%s %s with %s: %d %s, want 400 naming (body)", r.method, r.path, b, code, body)
			}
		}
	}
	if after := changeable(); after != before {
		t.Errorf("refused bodies changed the subscription:\nbefore %s\nafter  %s", before, after)
	}
}

func jsonID(id int64) string { b, _ := json.Marshal(id); return string(b) }
