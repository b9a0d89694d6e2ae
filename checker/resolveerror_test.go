package checker

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// The guard of subscription URLs says a name does not resolve with the
// host and why, never with the address of the resolver it asked, which
// Go's resolver puts in its errors: at the check when one is made, and at
// every connection (the error of a delivery or a verification).
func TestGuardErrorsHideTheResolver(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.DNSError{Err: "no such host", Name: "example.invalid", Server: "10.0.0.53:53", IsNotFound: true}, "cannot resolve host example.invalid: no such host"},
		{&net.DNSError{Err: "i/o timeout", Name: "example.invalid", Server: "10.0.0.53:53", IsTimeout: true}, "cannot resolve host example.invalid: timed out"},
		{&net.DNSError{Err: "server misbehaving", Name: "example.invalid", Server: "10.0.0.53:53"}, "cannot resolve host example.invalid: server misbehaving"},
		{&net.DNSError{Err: "read udp 10.0.0.2:41234->10.0.0.53:53: read: connection refused", Name: "example.invalid", Server: "10.0.0.53:53"},
			"cannot resolve host example.invalid: the resolver did not answer"},
		{errors.New("lookup example.invalid on 10.0.0.53:53: dial udp 10.0.0.53:53: connect: network is unreachable"),
			"cannot resolve host example.invalid: the resolver did not answer"},
	} {
		g := NewURLGuard(failingResolver{tc.err}, nil, time.Second)
		check := g.Check(context.Background(), "https://example.invalid/hook")
		_, dial := g.Dial(context.Background(), "tcp", "example.invalid:443")
		for name, err := range map[string]error{"check": check, "dial": dial} {
			var re *ResolveError
			if err == nil || err.Error() != tc.want || strings.Contains(err.Error(), "10.0.0") || !errors.As(err, &re) || !errors.Is(err, tc.err) {
				t.Errorf("%s with %q: %v, want %q", name, tc.err, err, tc.want)
			}
		}
	}
	// An empty answer says so.
	g := NewURLGuard(emptyResolver{}, nil, time.Second)
	if _, err := g.Dial(context.Background(), "tcp", "empty.example:443"); err == nil || err.Error() != "cannot resolve host empty.example: it has no addresses" {
		t.Errorf("no addresses: %v", err)
	}
}

type emptyResolver struct{}

func (emptyResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) { return nil, nil }
