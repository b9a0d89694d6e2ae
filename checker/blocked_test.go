package checker

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestIsBlocked(t *testing.T) {
	dial := GuardedDialContext(nil, time.Second)
	_, err := dial(context.Background(), "tcp", "127.0.0.1:9")
	if err == nil || !IsBlocked(err) || !IsBlocked(fmt.Errorf("POST: %w", err)) {
		t.Fatalf("loopback without allow_private: err = %v, IsBlocked false", err)
	}
	allowed := GuardedDialContext([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, time.Second)
	if _, err := allowed(context.Background(), "tcp", "127.0.0.1:1"); err == nil || IsBlocked(err) {
		t.Fatalf("allowed loopback, closed port: err = %v, want a refused connection, not blocked", err)
	}
}
