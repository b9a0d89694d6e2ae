package admin

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzSubscriptionBody: whatever body a client sends to POST or PATCH
// /subscriptions, the parser either accepts a subscription whose fields
// are all valid, or refuses it with an error naming one field.
func FuzzSubscriptionBody(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://hooks.example/","filters":{"pages":["acme"],"events":["incident.opened"],"min_impact":"major"},"description":"acme"}`,
		`{"paused":true}`, `{"filters":{"page":["x"]}}`, `{"url":1}`, `{}`, `[]`, `{"description":"a\nb"}`, `{"url":"https://h.example/"}{}`,
		`{"filters":{"links":["a/b","c"]}}`, `{"filters":null,"description":null}`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	a := &API{}
	f.Fuzz(func(t *testing.T, body []byte, create bool) {
		r := httptest.NewRequest(http.MethodPost, "/api/admin/subscriptions", bytes.NewReader(body))
		var b SubscriptionRequest
		err := decode(httptest.NewRecorder(), r, &b)
		if err == nil {
			err = a.parseSubscription(b, create)
		}
		if err != nil {
			var fe *fieldError
			if !errors.As(err, &fe) || fe.field == "" || strings.ContainsAny(fe.field, " \n\r") {
				t.Fatalf("error without a clean field name: %#v", err)
			}
			return
		}
		if create && (b.URL == nil || strings.TrimSpace(*b.URL) == "" || b.Paused != nil) {
			t.Fatalf("accepted a creation without a URL or with paused: %s", body)
		}
		if !create && b.URL != nil {
			t.Fatalf("accepted a URL change: %s", body)
		}
		if b.Filters != nil && len(b.Filters.Check(nil)) > 0 {
			t.Fatalf("accepted invalid filters: %s", body)
		}
		if b.Description != nil && checkLine("description", *b.Description, false, maxDescription) != nil {
			t.Fatalf("accepted a bad description: %s", body)
		}
	})
}
