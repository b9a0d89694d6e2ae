package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"linkwatch/internal/refused"
)

// offlineDemo is the embedded demo config as a machine without internet
// meets it: every http(s) URL in it (links, fallbacks, the canary) points
// at a closed port of its own loopback address, one per host, so every
// check is refused at once and no test leaves the machine. Everything else
// is the demo's, but for what a test needs: its own database, the admin
// token, a short interval (600ms, a test's) and loopback allowed.
func offlineDemo(t *testing.T) (cfg string, destinations []string, canary string) {
	t.Helper()
	raw, err := os.ReadFile("config/default.yaml") // what config embeds
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	port := refused.Port(t) // connections to it are refused, on every host
	hosts := map[string]string{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, c := range n.Content {
			walk(c)
			if n.Kind != yaml.MappingNode || i%2 == 0 {
				continue
			}
			u, err := url.Parse(c.Value)
			if c.Kind != yaml.ScalarNode || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				continue
			}
			if hosts[u.Host] == "" {
				hosts[u.Host] = fmt.Sprintf("127.0.0.%d:%d", 10+len(hosts), port)
			}
			u.Host = hosts[u.Host]
			c.Value = u.String()
			if n.Content[i-1].Value == "canary" {
				canary = c.Value
			} else {
				destinations = append(destinations, c.Value)
			}
		}
	}
	walk(&doc)
	set := func(section, key, value string) {
		root := doc.Content[0]
		var m *yaml.Node
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == section {
				m = root.Content[i+1]
			}
		}
		if m == nil {
			m = &yaml.Node{Kind: yaml.MappingNode}
			root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: section}, m)
		}
		var v yaml.Node
		if err := yaml.Unmarshal([]byte(value), &v); err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				m.Content[i+1] = v.Content[0]
				return
			}
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v.Content[0])
	}
	set("storage", "path", "DBPATH")
	set("server", "admin_token", trustToken)
	set("probe", "interval", "600ms")
	set("probe", "timeout", "500ms")
	set("probe", "allow_private", "[127.0.0.0/8]")
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), destinations, canary
}

// TestServeDemoOffline runs serve on the demo config as a machine without
// internet does (CI, a laptop offline): every link and the canary are
// unreachable, the hub's own redirects work. linkwatch must say that its
// own network is down (prober_offline) and hold every link's incident
// back: each destination passes its failure threshold, none opens an
// incident, and the public incidents list shows no outage of any link.
func TestServeDemoOffline(t *testing.T) {
	t.Parallel()
	cfg, destinations, canary := offlineDemo(t)
	if len(destinations) < 2 {
		t.Fatalf("the demo config has %d destinations", len(destinations))
	}
	app := startApp(t, cfg, nil)
	type incident struct {
		ID    int64  `json:"id"`
		Kind  string `json:"kind"`
		Title string `json:"title"`
	}
	all := func() []incident {
		_, body := adminCall(t, app, "GET", "/api/admin/incidents?limit=100", "")
		var list struct{ Incidents []incident }
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("incidents: %v: %s", err, body)
		}
		return list.Incidents
	}
	// Every destination held back past its threshold (the engine logs it
	// once per target), and no incident but the prober's at every look on
	// the way: once every link is held and the prober is offline, no link
	// can open an incident until the canary answers.
	heldBack := func(target string) bool {
		for _, l := range strings.Split(app.stderr.String(), "\n") {
			if strings.Contains(l, "incident held back") && strings.Contains(l, "target="+target+" ") {
				return true
			}
		}
		return false
	}
	waitUntil(t, 30*time.Second, "every link held back and the prober offline", func() bool {
		offline := false
		for _, inc := range all() {
			if inc.Kind != "prober_offline" {
				t.Fatalf("with no network the demo opened %s incident %q (canary %q); stderr:\n%s", inc.Kind, inc.Title, canary, app.stderr)
			}
			offline = true
		}
		for _, d := range destinations {
			if !heldBack(d) {
				return false
			}
		}
		return offline
	})
	if list := all(); len(list) != 1 || list[0].Kind != "prober_offline" {
		t.Fatalf("incidents = %+v, want the prober's alone", list)
	}
	// What the public reads: no incident at all. The prober's own state is
	// not an outage of the links: the status page shows it as a banner,
	// never as an incident.
	for _, path := range []string{"/api/v2/incidents.json", "/api/v2/incidents/unresolved.json", "/api/v2/summary.json"} {
		resp, body := get(t, "GET", app.URL+path)
		var api struct {
			Incidents []struct {
				Name       string
				Impact     string
				Components []any
			}
			Status struct{ Indicator string }
		}
		if err := json.Unmarshal([]byte(body), &api); resp.StatusCode != 200 || err != nil {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		if len(api.Incidents) != 0 {
			t.Errorf("%s lists incidents with no network: %+v", path, api.Incidents)
		}
		if ind := api.Status.Indicator; ind != "" && ind != "none" {
			t.Errorf("%s: status indicator %q with no network, want none", path, ind)
		}
	}
}
