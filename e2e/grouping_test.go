package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"linkwatch/storage/sqlite"
)

// TestServeGroupsStuckAndRemoved: ten links of one host fail: one opening
// and one update naming the nine others. A receiver that keeps failing one
// incident's alerts still gets another incident's. A link removed by a
// reload (SIGHUP) while its incident is open resolves it.
func TestServeGroupsStuckAndRemoved(t *testing.T) {
	endToEnd(t)
	var hostDown, otherDown atomic.Bool
	shop := newSwitchable(t, &hostDown)
	// The other destination listens on another loopback address: another host.
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if otherDown.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	other.Listener = ln
	other.Start()
	t.Cleanup(other.Close)
	otherURL := other.URL
	hook := newHookReceiver(t)
	var links strings.Builder
	for i := range 10 {
		fmt.Fprintf(&links, "      - {slug: s%d, url: %q}\n", i, fmt.Sprintf("%s/item/%d", shop.srv.URL, i))
	}
	dir := t.TempDir()
	// The ten links fail within two intervals of each other; the group
	// interval (three) is above that.
	cfgWith := func(extra string) string {
		return `
storage: {path: "` + dir + `/lw.db"}
server: {drain_delay: 0s}
probe: {interval: 1s, timeout: 900ms, allow_private: [127.0.0.0/8], self_check: false}
alerts:
  group_interval: 3s
  webhooks:
    - {name: ops, url: "` + hook.srv.URL + `", secret: "${HOOK_SECRET}"}
pages:
  - slug: acme
    links:
` + links.String() + extra
	}
	otherLink := "      - {slug: other, url: \"" + otherURL + "/\"}\n"
	cfgPath := writeConfig(t, dir, cfgWith(otherLink))
	app := startServe(t, cfgPath, "HOOK_SECRET="+hookSecret)
	// A first healthy check of every link, written: what fails next is a
	// change.
	db, err := sqlite.Open(context.Background(), dir+"/lw.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitUntil(t, 30*time.Second, "every link checked healthy", func() bool {
		for i := range 10 {
			if !checkedUp(t, db, fmt.Sprintf("%s/item/%d", shop.srv.URL, i)) {
				return false
			}
		}
		return checkedUp(t, db, otherURL+"/")
	})

	// The receiver refuses every alert of the shop's incident.
	var shopIncident atomic.Int64
	hook.setAnswer(func(b hookBody) int {
		if strings.Contains(b.Data.Incident.Key, "127.0.0.1") {
			shopIncident.Store(b.Data.Incident.ID)
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	hostDown.Store(true)
	waitUntil(t, 30*time.Second, "the shop's incident to try its alert", func() bool { return shopIncident.Load() != 0 })
	otherDown.Store(true)
	hook.waitFor(app, 30*time.Second, "the other incident's opening past the stuck one", func(b hookBody) bool {
		return b.Type == "incident.opened" && strings.Contains(b.Data.Incident.Key, "127.0.0.2")
	})
	if got := hook.got(); len(got) != 1 {
		t.Errorf("webhooks = %v, want only the other incident's opening", got)
	}

	// The receiver takes the shop's alerts again: the opening, then one update.
	hook.setAnswer(nil)
	grouped := hook.waitFor(app, 60*time.Second, "grouped update", func(b hookBody) bool { return b.Data.Reason == "target_added" })
	if n := len(grouped.Data.Added); n != 9 {
		t.Errorf("grouped update names %d added links, want 9: %+v", n, grouped.Data.Added)
	}
	var shopAlerts []string
	for _, b := range hook.got() {
		if b.Data.Incident.ID == grouped.Data.Incident.ID {
			shopAlerts = append(shopAlerts, b.String())
		}
	}
	if len(shopAlerts) != 2 || !strings.HasPrefix(shopAlerts[0], "incident.opened") {
		t.Errorf("shop incident alerts = %v, want the opening then one grouped update", shopAlerts)
	}

	// Reload without the other link while its incident is open.
	if err := os.WriteFile(cfgPath, []byte(cfgWith("")), 0o600); err != nil {
		t.Fatal(err)
	}
	app.reload(t)
	hook.waitFor(app, 30*time.Second, "the removed link's incident resolved", func(b hookBody) bool {
		return b.Type == "incident.resolved" && strings.Contains(b.Data.Incident.Key, "127.0.0.2")
	})
	resp, body := get(t, "GET", app.URL+"/api/v2/incidents/unresolved.json")
	if resp.StatusCode != 200 || strings.Contains(body, "127.0.0.2") {
		t.Errorf("the removed link's incident is still unresolved: %s", body)
	}
}
