package checker

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http/httptrace"
	"sync"
	"time"

	"linkwatch"
)

// hopTrace records when each phase of one request happened.
type hopTrace struct {
	mu                     sync.Mutex
	dnsStart, dnsDone      time.Time
	connStart, connDone    time.Time
	tlsStart, tlsDone      time.Time
	wrote, firstByte, done time.Time
	connected              bool     // a dial succeeded
	conn                   net.Conn // the connection the request went over
	reused                 bool     // conn was taken from the idle pool
	resumed                bool     // the TLS handshake resumed an earlier session
	refused                bool     // the server answered the TLS handshake with an alert
}

type traceKey struct{}

// traceFrom returns the hop trace carried by ctx, or a throwaway one.
func traceFrom(ctx context.Context) *hopTrace {
	if t, ok := ctx.Value(traceKey{}).(*hopTrace); ok {
		return t
	}
	return &hopTrace{}
}

func (t *hopTrace) mark(at *time.Time) {
	t.mu.Lock()
	*at = time.Now()
	t.mu.Unlock()
}

// withTrace attaches t to ctx, both for httptrace and for the dialer's own
// DNS timing (the dialer resolves names itself, so httptrace's DNS hooks
// never fire).
func withTrace(ctx context.Context, t *hopTrace) context.Context {
	ctx = context.WithValue(ctx, traceKey{}, t)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		// The dialer races several addresses (Happy Eyeballs), so connect
		// hooks fire once per attempt: the phase runs from the first
		// attempt to the first connection, and losers that give up later
		// do not move its end.
		ConnectStart: func(string, string) {
			t.mu.Lock()
			if t.connStart.IsZero() {
				t.connStart = time.Now()
			}
			t.mu.Unlock()
		},
		ConnectDone: func(_, _ string, err error) {
			t.mu.Lock()
			if !t.connected {
				t.connDone = time.Now()
				t.connected = err == nil
			}
			t.mu.Unlock()
		},
		GotConn: func(info httptrace.GotConnInfo) {
			t.mu.Lock()
			t.conn, t.reused = info.Conn, info.Reused
			t.mu.Unlock()
		},
		// dialTLS reports the handshake it makes, and the transport
		// reports it again, as done, once it has the connection: the
		// first report is the handshake's.
		TLSHandshakeStart: func() {
			t.mu.Lock()
			if t.tlsStart.IsZero() {
				t.tlsStart = time.Now()
			}
			t.mu.Unlock()
		},
		TLSHandshakeDone: func(state tls.ConnectionState, err error) {
			t.mu.Lock()
			defer t.mu.Unlock()
			if !t.tlsDone.IsZero() {
				return
			}
			t.tlsDone = time.Now()
			t.resumed = err == nil && state.DidResume
			// crypto/tls reports an alert from the server as an OpError
			// "remote error".
			var remote *net.OpError
			t.refused = errors.As(err, &remote) && remote.Op == "remote error"
		},
		WroteRequest:         func(httptrace.WroteRequestInfo) { t.mark(&t.wrote) },
		GotFirstResponseByte: func() { t.mark(&t.firstByte) },
	})
}

func span(from, to time.Time) time.Duration {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return 0
	}
	return to.Sub(from)
}

// got returns the connection the request went over and whether it came
// from the idle pool.
func (t *hopTrace) got() (conn net.Conn, reused bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conn, t.reused
}

// handshake reports whether the request's connection was set up by
// resuming a TLS session rather than a full, verified handshake, and
// whether the server refused the handshake with an alert.
func (t *hopTrace) handshake() (resumed, refused bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.resumed, t.refused
}

// phases turns the marks into durations. A reused connection has no DNS,
// connect or TLS phase.
func (t *hopTrace) phases() linkwatch.Phases {
	t.mu.Lock()
	defer t.mu.Unlock()
	return linkwatch.Phases{
		DNS:       span(t.dnsStart, t.dnsDone),
		Connect:   span(t.connStart, t.connDone),
		TLS:       span(t.tlsStart, t.tlsDone),
		FirstByte: span(t.wrote, t.firstByte),
		Transfer:  span(t.firstByte, t.done),
	}
}

// connecting reports whether a dial was started and none has succeeded:
// a deadline then cut the connect short. (The dial may also have given up
// on its own at the same instant, so a failed ConnectDone still counts.)
func (t *hopTrace) connecting() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.connStart.IsZero() && !t.connected
}

// resolving reports whether a DNS lookup was started and has not returned.
func (t *hopTrace) resolving() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.dnsStart.IsZero() && t.dnsDone.IsZero()
}
