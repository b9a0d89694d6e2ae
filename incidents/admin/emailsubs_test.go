package admin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"linkwatch"
)

// Operators see how many confirmed subscribers each page has (numbers
// only), export them with their addresses, and delete one; every call
// needs the token, and a bad or unknown id changes nothing.
func TestEmailSubscribersCountExportDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	ctx := context.Background()
	for _, s := range []struct{ addr, page string }{{"ann@example.com", "acme"}, {"bob@example.com", ""}, {"cat@example.com", "acme"}} {
		if err := e.db.RequestEmailSubscription(ctx, s.addr, s.page, linkwatch.MaxPendingEmail); err != nil {
			t.Fatal(err)
		}
	}
	list, err := e.db.ListEmailSubscribers(ctx)
	if err != nil || len(list) != 3 {
		t.Fatal(list, err)
	}
	for _, s := range list[:2] { // cat stays pending
		if _, err := e.db.ConfirmEmailSubscriber(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}

	code, body, raw := e.call(t, "GET", "/email-subscribers/counts", "")
	if code != http.StatusOK || strings.Contains(raw, "@") {
		t.Fatalf("counts: %d %s", code, raw)
	}
	pages := body["pages"].(map[string]any)
	if pages["acme"] != 1.0 || pages[""] != 1.0 || body["total"] != 2.0 {
		t.Errorf("counts %s: want acme 1, every page 1, total 2", raw)
	}

	code, body, raw = e.call(t, "GET", "/email-subscribers", "")
	if code != http.StatusOK || len(body["subscribers"].([]any)) != 3 || !strings.Contains(raw, "cat@example.com") || strings.Contains(raw, `"key"`) {
		t.Fatalf("export: %d %s", code, raw)
	}

	for _, tc := range []struct {
		path string
		code int
	}{{"/email-subscribers/x", http.StatusBadRequest}, {"/email-subscribers/0", http.StatusBadRequest}, {"/email-subscribers/999", http.StatusNotFound}} {
		if code, _, raw := e.call(t, "DELETE", tc.path, ""); code != tc.code {
			t.Errorf("DELETE %s: %d %s, want %d", tc.path, code, raw, tc.code)
		}
	}
	if code, _, _ := e.callAs(t, "", "GET", "/email-subscribers", ""); code != http.StatusUnauthorized {
		t.Errorf("export without the token: %d", code)
	}
	if code, _, _ := e.callAs(t, "", "DELETE", "/email-subscribers/1", ""); code != http.StatusUnauthorized {
		t.Errorf("delete without the token: %d", code)
	}
	if list, _ := e.db.ListEmailSubscribers(ctx); len(list) != 3 {
		t.Fatalf("refused calls changed the subscribers: %d left", len(list))
	}

	if code, _, raw := e.call(t, "DELETE", "/email-subscribers/1", ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, raw)
	}
	if _, _, raw := e.call(t, "GET", "/email-subscribers", ""); strings.Contains(raw, "ann@example.com") {
		t.Errorf("ann is still exported after her deletion: %s", raw)
	}
}
