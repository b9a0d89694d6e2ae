package hub

import (
	"strings"
	"testing"
)

func TestValidateURL(t *testing.T) {
	tests := []struct {
		url     string
		wantErr string // substring; empty means valid
	}{
		{"https://example.com/", ""},
		{"http://example.com:8080/a?b=c#d", ""},
		{"https://xn--bcher-kva.example/", ""},
		{"", "is required"},
		{"ftp://example.com/", "scheme must be http or https"},
		{"javascript:alert(1)", "scheme must be http or https"},
		{"//example.com/", "scheme must be http or https"},
		{"https://user:pass@example.com/", "credentials"},
		{"https://user@example.com/", "credentials"},
		{"https:///path", "must have a host"},
		{"https://example.com/\r\nSet-Cookie: x", "control character"},
		{"https://example.com/a b", "control character or space at byte 21"},
		{"https://example.com/\x00", "control character"},
		{"https://example.com:99999/", "invalid port"},
		{"https://example.com:0/", "invalid port"},
		{"https://exa%mple.com/", "not a valid URL"},
		{"https://example.com/" + strings.Repeat("a", 2048), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := ValidateURL(tt.url)
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestValidateSlug(t *testing.T) {
	tests := []struct {
		slug    string
		wantErr string
	}{
		{"ada", ""},
		{"a", ""},
		{"7", ""},
		{"my-page-2", ""},
		{"a--b", ""},
		{strings.Repeat("a", 64), ""},
		{"", "is required"},
		{"Ada", "lowercase"},
		{"-ada", "lowercase"},
		{"ada-", "lowercase"},
		{"-", "lowercase"},
		{"a/b", "lowercase"},
		{"a.b", "lowercase"},
		{"qr.svg", "lowercase"},
		{"é", "lowercase"},
		{"a b", "lowercase"},
		{strings.Repeat("a", 65), "lowercase"},
	}
	for _, tt := range tests {
		t.Run(tt.slug, func(t *testing.T) {
			checkErr(t, ValidateSlug(tt.slug), tt.wantErr)
			if got := ValidSlug(tt.slug); got != (tt.wantErr == "") {
				t.Errorf("ValidSlug(%q) = %v", tt.slug, got)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Errorf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"https://example.com/", "http://[::1]:80/x", "https://u@h/", "http://h/\x7f", "HTTP://EXAMPLE.COM"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if ValidateURL(raw) != nil {
			return
		}
		// Whatever passes must be safe to put in a Location header.
		if strings.ContainsAny(raw, "\r\n\x00 ") {
			t.Fatalf("accepted URL with control characters: %q", raw)
		}
		if !strings.HasPrefix(strings.ToLower(raw), "http://") && !strings.HasPrefix(strings.ToLower(raw), "https://") {
			t.Fatalf("accepted non-http URL: %q", raw)
		}
	})
}
