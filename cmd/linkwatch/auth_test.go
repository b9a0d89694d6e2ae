package main

import (
	"net/http"
	"testing"
)

// The Authorization scheme is case-insensitive (RFC 9110) for every API
// behind the admin token, through serve: "bearer" was once refused.
func TestAdminAuthSchemeIgnoresCase(t *testing.T) {
	t.Parallel()
	const token = "0123456789abcdef0123"
	app := startApp(t, e2eConfig, map[string]string{"ADMIN_TOKEN": token})
	for _, path := range []string{"/api/admin/incidents", "/api/admin/clicks"} {
		for header, want := range map[string]int{
			"Bearer " + token:  http.StatusOK,
			"bearer " + token:  http.StatusOK,
			"BEARER " + token:  http.StatusOK,
			"Bearer  " + token: http.StatusOK,
			"Basic " + token:   http.StatusUnauthorized,
			"Bearer" + token:   http.StatusUnauthorized,
			"bearer " + "x":    http.StatusUnauthorized,
			"":                 http.StatusUnauthorized,
		} {
			req, err := http.NewRequest("GET", app.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if header != "" {
				req.Header.Set("Authorization", header)
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("GET %s with %q = %d, want %d", path, header[:min(len(header), 8)], resp.StatusCode, want)
			}
		}
	}
}
