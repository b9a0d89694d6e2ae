package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
)

// person matches text that speaks as a person: only an operator's own
// words may.
var person = regexp.MustCompile(`(?i)\b(we|we're|we've|our|us)\b`)

// TestServeAutomaticUpdatesSpeakAsLinkwatch goes through serve: an outage
// that linkwatch detected and saw end, with one update an operator wrote
// in between. The Statuspage JSON, the status page and both feeds carry
// the automatic first and last updates in linkwatch's name ("Detected by
// linkwatch: …", "Resolved by linkwatch after …"); only the operator's
// update says "we".
func TestServeAutomaticUpdatesSpeakAsLinkwatch(t *testing.T) {
	t.Parallel()
	var broken atomic.Bool
	dest := newSwitchable(t, &broken)
	cfg := `
server: {admin_token: "` + trustToken + `"}
storage: {path: DBPATH}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.1/32], self_check: false}
pages:
  - slug: acme
    links:
      - {slug: shop, url: "` + dest.srv.URL + `/shop"}
`
	app := startApp(t, cfg, nil)
	broken.Store(true)
	var id int64
	waitUntil(t, 20*time.Second, "the incident opened", func() bool {
		_, body := adminCall(t, app, "GET", "/api/admin/incidents?open=true", "")
		var list struct{ Incidents []struct{ ID int64 } }
		if json.Unmarshal([]byte(body), &list) == nil && len(list.Incidents) == 1 {
			id = list.Incidents[0].ID
		}
		return id != 0
	})
	const operator = "We rolled the shop back to yesterday's release."
	if code, body := adminCall(t, app, "POST", fmt.Sprintf("/api/admin/incidents/%d/updates", id), `{"status":"monitoring","body":"`+operator+`"}`); code != 201 {
		t.Fatalf("post update: %d %s", code, body)
	}
	broken.Store(false)
	waitUntil(t, 20*time.Second, "the incident resolved by linkwatch", func() bool {
		_, body := adminCall(t, app, "GET", "/api/admin/incidents?open=true", "")
		return strings.Contains(body, `"incidents": []`)
	})

	// The Statuspage API: newest first, the operator's update between
	// linkwatch's two.
	var api struct {
		Incidents []struct {
			ID      string `json:"id"`
			Updates []struct {
				Status, Body string
			} `json:"incident_updates"`
		} `json:"incidents"`
	}
	resp, body := get(t, "GET", app.URL+"/api/v2/incidents.json")
	if err := json.Unmarshal([]byte(body), &api); resp.StatusCode != 200 || err != nil || len(api.Incidents) != 1 {
		t.Fatalf("incidents.json: %d %v\n%s", resp.StatusCode, err, body)
	}
	ups := api.Incidents[0].Updates
	if len(ups) != 3 || !strings.HasPrefix(ups[2].Body, "Detected by linkwatch: ") || ups[2].Status != "investigating" ||
		ups[1].Body != operator || !strings.HasPrefix(ups[0].Body, "Resolved by linkwatch after ") || ups[0].Status != "resolved" {
		t.Errorf("incident updates = %+v, want linkwatch's detection, the operator's words, linkwatch's resolution", ups)
	}
	for _, u := range ups {
		if u.Body != operator && person.MatchString(u.Body) {
			t.Errorf("an automatic update speaks as a person: %q", u.Body)
		}
	}

	// The status page and the feeds carry the same words.
	_, html := get(t, "GET", app.URL+"/status")
	for _, want := range []string{"Detected by linkwatch: ", "Resolved by linkwatch after ", operator} {
		if !strings.Contains(html, strings.ReplaceAll(want, "'", "&#39;")) {
			t.Errorf("/status lacks %q", want)
		}
	}
	for _, path := range []string{"/status/feed.atom", "/status/feed.rss"} {
		resp, body := get(t, "GET", app.URL+path)
		f, err := gofeed.NewParser().ParseString(body)
		if resp.StatusCode != 200 || err != nil || len(f.Items) != 1 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		text := f.Items[0].Content + f.Items[0].Description
		if !strings.Contains(text, "Detected by linkwatch: ") || !strings.Contains(text, "Resolved by linkwatch after ") {
			t.Errorf("%s: the entry lacks linkwatch's updates:\n%s", path, text)
		}
		if person.MatchString(strings.ReplaceAll(strings.ReplaceAll(text, operator, ""), "We rolled the shop back to yesterday&#39;s release.", "")) {
			t.Errorf("%s: automatic text speaks as a person:\n%s", path, text)
		}
	}
}
