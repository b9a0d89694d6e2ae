package alerting

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"linkwatch/checker"
)

// DialFunc dials for outbound requests: in serve, the prober's SSRF guard
// (checker.GuardedDialContext with probe.allow_private).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// maxReceiverHeaderBytes bounds the response headers a receiver may send:
// Go's default allows 10 MB from a server we do not control.
const maxReceiverHeaderBytes = 64 << 10

// newOutboundClient is the one HTTP client every alert channel (Slack,
// Sentry, webhooks) sends with. Every connection is made by dial, so the
// SSRF guard checks the address actually connected to, and no redirect is
// followed: a 3xx is an answer, not an instruction to post the alert (and
// its secrets) somewhere else, which would also reach whatever the guard
// would refuse as a first hop. No proxy is taken from the environment: the
// guard must see the receiver's address, not a proxy's. A nil dial uses a
// plain dialer (tests of a sink alone).
func newOutboundClient(dial DialFunc, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                  nil,
		ForceAttemptHTTP2:      true,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: maxReceiverHeaderBytes,
	}
	if dial != nil {
		tr.DialContext = dial
	} else {
		tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	return &http.Client{
		Transport:     answerRecorder{tr},
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// requestFailed classifies a request that got no answer, for every
// channel. A receiver the SSRF guard refuses is final: retrying for a day
// will not change the address, so it is dead-lettered at once with an error
// saying how to allow it; anything else (DNS, a refused or dropped
// connection, a timeout) is retried. Classified before the error is
// scrubbed, which drops its chain; clean is the scrubbed text.
func requestFailed(err, clean error) *SendError {
	if checker.IsBlocked(err) {
		return &SendError{Err: fmt.Errorf("refused by the SSRF guard, not retried: %w", clean)}
	}
	return &SendError{Retry: true, Err: clean}
}
