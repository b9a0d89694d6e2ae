// Package refused gives tests a loopback port where every connection is
// refused, and stays refused for the whole test.
//
// The usual way, listening on port 0 and closing the listener, frees the
// port at once: another test's listener, or the ephemeral port of an
// outgoing connection, may take it, and the "closed" destination then
// answers (or refuses the server started on it later). Here the port is
// bound and never listened on: the kernel refuses connections to it (no
// listening socket), and no other socket can bind it until the test ends.
package refused

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// Port binds a TCP port on every address, without listening, for tb's
// life, and returns it: a connection to it on any loopback address
// (127.0.0.1, 127.0.0.10, …) is refused.
func Port(tb testing.TB) int {
	tb.Helper()
	// Not SO_REUSEADDR: with it unset, no other socket may bind the port
	// on any address while this one holds it.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatalf("refused: socket: %v", err)
	}
	tb.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{}); err != nil {
		tb.Fatalf("refused: bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		tb.Fatalf("refused: getsockname: %v", err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}

// Addr is 127.0.0.1 on a Port: host:port for a URL whose every request is
// refused.
func Addr(tb testing.TB) string {
	tb.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(Port(tb)))
}
