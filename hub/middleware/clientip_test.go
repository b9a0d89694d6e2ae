package middleware

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct", "203.0.113.9:1234", nil, nil, "203.0.113.9"},
		{"forged header, no trusted proxies", "203.0.113.9:1234", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"forged header from an untrusted peer", "203.0.113.9:1234", []string{"198.51.100.1"}, proxies, "203.0.113.9"},
		{"through a trusted proxy", "10.0.0.5:1234", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"client-set prefix is ignored", "10.0.0.5:1234", []string{"1.2.3.4, 198.51.100.1"}, proxies, "198.51.100.1"},
		{"two trusted proxies", "10.0.0.5:1234", []string{"198.51.100.1, 10.0.0.7"}, proxies, "198.51.100.1"},
		{"several header lines", "10.0.0.5:1234", []string{"1.2.3.4", "198.51.100.1"}, proxies, "198.51.100.1"},
		{"garbage hop", "10.0.0.5:1234", []string{"not-an-ip"}, proxies, "10.0.0.5"},
		{"no header", "10.0.0.5:1234", nil, proxies, "10.0.0.5"},
		{"ipv6", "[2001:db8::1]:443", nil, proxies, "2001:db8::1"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientIP(r, tt.trusted); got != tt.want {
			t.Errorf("%s: ClientIP = %q, want %q", tt.name, got, tt.want)
		}
	}
}
