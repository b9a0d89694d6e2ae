package statuspage_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"linkwatch"

	"github.com/gorilla/mux"

	"linkwatch/hub"
	"linkwatch/statuspage"
	"linkwatch/statuspage/storesource"
	"linkwatch/storage/sqlite"
	"linkwatch/storage/sqlite/sqlitetest"
)

// subscribeServer is a status page offering the form on every page but
// zed, over a fresh database.
func subscribeServer(t *testing.T, limiter bool) (*httptest.Server, *sqlite.DB) {
	t.Helper()
	db := sqlitetest.MustOpen(t)
	cat, err := hub.NewCatalog([]hub.PageSpec{
		{Slug: "acme", Title: "Acme", Links: []hub.LinkSpec{{Slug: "shop", URL: shopURL}}},
		{Slug: "zed", Title: "Zed", Links: []hub.LinkSpec{{Slug: "store", URL: zedURL}}},
	}, hub.NewCounter(nil))
	if err != nil {
		t.Fatal(err)
	}
	opts := &statuspage.SubscribeOptions{Store: db, Off: map[string]bool{"zed": true}}
	if limiter {
		opts.Limiter = statuspage.NewSubscribeLimiter(64)
	}
	s := statuspage.New(storesource.Source{Store: db}, statuspage.Options{Catalog: func() *hub.Catalog { return cat }, Subscribe: opts})
	r := mux.NewRouter()
	s.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv, db
}

func send(t *testing.T, method, u, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

const formType = "application/x-www-form-urlencoded"

// Bad input to the form and its JSON twin gets a clear error naming the
// field, and stores nothing.
func TestSubscribeBadInput(t *testing.T) {
	t.Parallel()
	srv, db := subscribeServer(t, false)
	for _, tc := range []struct {
		name, path, ctype, body string
		code                    int
		says                    string
	}{
		{"no address", "/status/subscribe", formType, "email=&page=acme", 400, `aria-invalid="true"`},
		{"display name", "/status/subscribe", formType, url.Values{"email": {"Ann <ann@example.com>"}}.Encode(), 400, "name@example.com"},
		{"header injection", "/status/subscribe", formType, url.Values{"email": {"ann@example.com\r\nBcc: e@x.example"}}.Encode(), 400, "name@example.com"},
		{"unknown page", "/status/subscribe", formType, "email=ann%40example.com&page=nope", 400, "no such page"},
		{"page with the form off", "/status/subscribe", formType, "email=ann%40example.com&page=zed", 404, "offers no email subscription"},
		{"a body too large", "/status/subscribe", formType, "email=" + strings.Repeat("a", 5000), 400, "could not be read"},
		{"JSON: not an object", "/api/v2/subscribers.json", "application/json", `["ann@example.com"]`, 400, "one JSON object"},
		{"JSON: unknown field", "/api/v2/subscribers.json", "application/json", `{"email":"ann@example.com","admin":true}`, 400, "one JSON object"},
		{"JSON: two objects", "/api/v2/subscribers.json", "application/json", `{"email":"ann@example.com"}{}`, 400, "one JSON object"},
		{"JSON: bad address", "/api/v2/subscribers.json", "application/json", `{"email":"ann@"}`, 400, `"field":"email"`},
		{"JSON: unknown page", "/api/v2/subscribers.json", "application/json", `{"email":"ann@example.com","page":"../x"}`, 400, `"field":"page"`},
	} {
		code, body := send(t, "POST", srv.URL+tc.path, tc.ctype, tc.body)
		if code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d, want %d saying %q:\n%s", tc.name, code, tc.code, tc.says, body)
		}
		if strings.Contains(body, "ann@example.com") {
			t.Errorf("%s: the answer repeats the address", tc.name)
		}
	}
	if list, _ := db.ListEmailSubscribers(context.Background()); len(list) != 0 {
		t.Errorf("bad input stored %d subscribers", len(list))
	}
	// Every link page with a bad token: one answer, whatever is wrong.
	for _, path := range []string{linkwatch.EmailConfirmPath, linkwatch.EmailManagePath, linkwatch.EmailUnsubscribePath} {
		for _, tok := range []string{"", "x", "c.1.99999999999.AAAA", "m.1.0." + strings.Repeat("A", 43)} {
			if code, body := send(t, "GET", srv.URL+path+"?token="+url.QueryEscape(tok), "", ""); code != 404 || !strings.Contains(body, "This link does not work") {
				t.Errorf("GET %s with token %q: %d", path, tok, code)
			}
		}
	}
}

// The answer is the same whether the address is new, pending or
// subscribed; the form's client limit answers 429 with Retry-After.
func TestSubscribeSameAnswerAndLimit(t *testing.T) {
	t.Parallel()
	srv, db := subscribeServer(t, true)
	ctx := context.Background()
	_, first := send(t, "POST", srv.URL+"/status/subscribe", formType, "email=ann%40example.com&page=acme")
	list, _ := db.ListEmailSubscribers(ctx)
	if len(list) != 1 {
		t.Fatalf("%d subscribers", len(list))
	}
	_, pending := send(t, "POST", srv.URL+"/status/subscribe", formType, "email=ann%40example.com&page=acme")
	if _, err := db.ConfirmEmailSubscriber(ctx, list[0].ID); err != nil {
		t.Fatal(err)
	}
	_, subscribed := send(t, "POST", srv.URL+"/status/subscribe", formType, "email=ann%40example.com&page=acme")
	if first != pending || pending != subscribed {
		t.Errorf("the answers differ:\nnew: %s\npending: %s\nsubscribed: %s", first, pending, subscribed)
	}
	send(t, "POST", srv.URL+"/status/subscribe", formType, "email=bob%40example.com")
	send(t, "POST", srv.URL+"/status/subscribe", formType, "email=cat%40example.com")
	code, _ := send(t, "POST", srv.URL+"/status/subscribe", formType, "email=dan%40example.com")
	if code != http.StatusTooManyRequests {
		t.Errorf("sixth request from one client: %d, want 429", code)
	}
	if list, _ := db.ListEmailSubscribers(ctx); len(list) != 3 {
		t.Errorf("%d subscribers: the refused request stored its address", len(list))
	}
}

// The manage page changes the scope and leaves; the unsubscribe page's
// GET only shows a button, its POST deletes.
func TestManageAndUnsubscribe(t *testing.T) {
	t.Parallel()
	srv, db := subscribeServer(t, false)
	ctx := context.Background()
	if err := db.RequestEmailSubscription(ctx, "ann@example.com", "acme", linkwatch.MaxPendingEmail); err != nil {
		t.Fatal(err)
	}
	list, _ := db.ListEmailSubscribers(ctx)
	sub := list[0]
	confirm := linkwatch.NewEmailToken(sub, linkwatch.TokenConfirm, time.Now().Add(time.Hour))
	manage := linkwatch.NewEmailToken(sub, linkwatch.TokenManage, time.Time{})
	// A manage link does nothing for a subscription not confirmed.
	if code, _ := send(t, "GET", srv.URL+linkwatch.EmailManagePath+"?token="+manage, "", ""); code != 404 {
		t.Errorf("manage before confirming: %d", code)
	}
	// A confirm token is not a manage token, nor the other way round.
	if code, _ := send(t, "POST", srv.URL+linkwatch.EmailConfirmPath, formType, "token="+manage); code != 404 {
		t.Errorf("confirm with a manage token: %d", code)
	}
	if code, body := send(t, "POST", srv.URL+linkwatch.EmailConfirmPath, formType, "token="+confirm); code != 200 || !strings.Contains(body, "You are subscribed") {
		t.Fatalf("confirm: %d %s", code, body)
	}
	code, body := send(t, "POST", srv.URL+linkwatch.EmailManagePath, formType, url.Values{"token": {manage}, "action": {"scope"}, "page": {""}}.Encode())
	if got, _ := db.EmailSubscriber(ctx, sub.ID); code != 200 || got.Page != "" || !strings.Contains(body, "Saved") {
		t.Errorf("scope to every page: %d, page %q", code, got.Page)
	}
	code, _ = send(t, "POST", srv.URL+linkwatch.EmailManagePath, formType, url.Values{"token": {manage}, "action": {"scope"}, "page": {"nope"}}.Encode())
	if got, _ := db.EmailSubscriber(ctx, sub.ID); code != 400 || got.Page != "" {
		t.Errorf("scope to an unknown page: %d, page %q", code, got.Page)
	}
	if code, body := send(t, "GET", srv.URL+linkwatch.EmailUnsubscribePath+"?token="+manage, "", ""); code != 200 || !strings.Contains(body, ">Unsubscribe</button>") {
		t.Errorf("unsubscribe page: %d", code)
	}
	if _, err := db.EmailSubscriber(ctx, sub.ID); err != nil {
		t.Fatalf("a GET of the unsubscribe link deleted the subscriber: %v", err)
	}
	if code, _ := send(t, "POST", srv.URL+linkwatch.EmailUnsubscribePath+"?token="+manage, formType, "List-Unsubscribe=One-Click"); code != 200 {
		t.Errorf("one-click: %d", code)
	}
	if _, err := db.EmailSubscriber(ctx, sub.ID); err == nil {
		t.Error("still subscribed after the one-click POST")
	}
	// A second click (a mail client's retry) is answered the same.
	if code, _ := send(t, "POST", srv.URL+linkwatch.EmailUnsubscribePath+"?token="+manage, formType, "List-Unsubscribe=One-Click"); code != 200 {
		t.Errorf("second one-click: %d", code)
	}
}
