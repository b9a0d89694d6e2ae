package admin

import "testing"

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		header, token string
		ok            bool
	}{
		{"Bearer tok", "tok", true},
		{"bearer tok", "tok", true},
		{"BEARER tok", "tok", true},
		{"bEaReR tok", "tok", true},
		{"Bearer   tok", "tok", true},
		{"Bearer tok tok", "tok tok", true}, // not a valid token: the comparison refuses it
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearertok", "", false},
		{"Basic dG9rOg==", "", false},
		{"Bearer\ttok", "", false},
		{"Bearerx tok", "", false},
		{"tok", "", false},
	} {
		token, ok := bearerToken(tt.header)
		if token != tt.token || ok != tt.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", tt.header, token, ok, tt.token, tt.ok)
		}
	}
}
