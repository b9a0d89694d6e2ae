package checker

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"linkwatch"
)

// failingResolver fails as Go's resolver does when its DNS server refuses
// or a custom resolver errs: the error names the resolver's address.
type failingResolver struct{ err error }

func (r failingResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return nil, r.err
}

// A DNS failure's public summary never names the resolver's address; the
// evidence (Error) keeps it for the on-call engineer.
func TestDNSSummaryHidesTheResolver(t *testing.T) {
	for _, err := range []error{
		&net.DNSError{Err: "read udp 10.0.0.2:41234->10.0.0.53:53: read: connection refused", Name: "shop.example", Server: "10.0.0.53:53", IsTemporary: true},
		errors.New("lookup shop.example on 10.0.0.53:53: dial udp 10.0.0.53:53: connect: network is unreachable"),
	} {
		c := newTestChecker(t, Options{Resolver: failingResolver{err}})
		r := c.Check(context.Background(), linkwatch.Target{ID: "x", Kind: linkwatch.TargetDestination, URL: "http://shop.example/"})
		if r.Cause != linkwatch.CauseDNS {
			t.Fatalf("cause %s (%s), want dns", r.Cause, r.Summary)
		}
		if strings.Contains(r.Summary, "10.0.0.53") || !strings.Contains(r.Summary, "shop.example") {
			t.Errorf("summary %q: want the host named and the resolver's address kept out", r.Summary)
		}
		if !strings.Contains(r.Error, "10.0.0.53") {
			t.Errorf("error %q: the evidence lost the resolver's address", r.Error)
		}
	}
	// Go's own reasons, which name no address, are kept.
	c := newTestChecker(t, Options{Resolver: failingResolver{&net.DNSError{Err: "server misbehaving", Name: "shop.example", Server: "10.0.0.53:53"}}})
	if r := c.Check(context.Background(), linkwatch.Target{ID: "x", Kind: linkwatch.TargetDestination, URL: "http://shop.example/"}); r.Summary != "DNS lookup for shop.example: server misbehaving" {
		t.Errorf("summary %q", r.Summary)
	}
}
