package refused_test

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"linkwatch/internal/refused"
)

// A connection to the address is refused, on 127.0.0.1 and on another
// loopback address, and nothing else can listen on the port meanwhile.
func TestRefusedAndHeld(t *testing.T) {
	t.Parallel()
	port := refused.Port(t)
	for _, host := range []string{"127.0.0.1", "127.0.0.10"} {
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("a connection to %s was accepted", addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("dial %s: %v, want connection refused", addr, err)
		}
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			t.Errorf("another socket listened on %s while the port was held", addr)
		}
	}
	if addr := refused.Addr(t); addr == net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) {
		t.Errorf("two holds share the port %d", port)
	}
}
