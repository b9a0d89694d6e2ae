package web

import (
	"net"
	"testing"
)

func TestServedURLs(t *testing.T) {
	t.Parallel()
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	tests := []struct {
		name                 string
		public               string
		set                  bool
		served               net.Addr
		wantPublic, wantSelf string
		wantMismatch         bool
	}{
		{"derived from the listener", "http://localhost:8080", false, tcp("127.0.0.1:9000"), "http://127.0.0.1:9000", "http://127.0.0.1:9000", false},
		{"port 0", "http://127.0.0.1:0", false, tcp("127.0.0.1:41234"), "http://127.0.0.1:41234", "http://127.0.0.1:41234", false},
		{"wildcard", "http://localhost:8080", false, tcp("[::]:8080"), "http://localhost:8080", "http://localhost:8080", false},
		{"agrees", "http://localhost:9000", true, tcp("127.0.0.1:9000"), "http://localhost:9000", "http://localhost:9000", false},
		{"another local port", "http://localhost:8080", true, tcp("127.0.0.1:9000"), "http://localhost:8080", "http://127.0.0.1:9000", true},
		{"loopback IP, default port", "http://127.0.0.1", true, tcp("127.0.0.1:9000"), "http://127.0.0.1", "http://127.0.0.1:9000", true},
		{"a proxy in front", "https://links.example.com", true, tcp("127.0.0.1:9000"), "https://links.example.com", "https://links.example.com", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			public, self, mismatch := ServedURLs(tt.public, tt.set, tt.served)
			if public != tt.wantPublic || self != tt.wantSelf || (mismatch != "") != tt.wantMismatch {
				t.Errorf("ServedURLs(%q, %v, %s) = %q, %q, %q; want %q, %q, mismatch %v",
					tt.public, tt.set, tt.served, public, self, mismatch, tt.wantPublic, tt.wantSelf, tt.wantMismatch)
			}
		})
	}
}
